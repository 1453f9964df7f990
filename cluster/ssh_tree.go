package cluster

import (
	"bytes"
	"context"
	"os"

	"github.com/pkg/sftp"
)

// writeNew writes data to name, which must not exist, in place: one open,
// the writes, one close. WriteFile's temporary file, chmod and rename cost
// three more round trips, which buy nothing inside CopyTree's stage, a
// directory of mode 0700 that nobody uses until it is verified and renamed.
// The file gets the server's default mode; CopyTree sets the real one in
// one command for all files.
func (n *SSH) writeNew(ctx context.Context, name string, data []byte) error {
	return n.fileErr("write", name, n.withSFTP(ctx, func(cl *sftp.Client) error {
		f, err := cl.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return err
		}
		_, err = f.ReadFrom(bytes.NewReader(data))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		return err
	}))
}
