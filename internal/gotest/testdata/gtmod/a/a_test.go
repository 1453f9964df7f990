package a

import "testing"

func TestPass(t *testing.T) { t.Log("fine") }

func TestSub(t *testing.T) {
	t.Run("one", func(t *testing.T) {})
	t.Run("two", func(t *testing.T) { t.Error("two went wrong") })
}

func TestSkipMissing(t *testing.T) { t.Skip("sshd not found: install Debian's openssh-server") }

func TestSkipOptional(t *testing.T) { t.Skip("optional: this kernel has no device-mapper") }
