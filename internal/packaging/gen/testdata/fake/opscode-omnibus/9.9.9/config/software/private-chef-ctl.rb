name "private-chef-ctl"
dependency "omnibus-ctl"

build do
  block do
    open("#{install_dir}/bin/private-chef-ctl", "w") do |file|
      file.print <<-EOH
#!/bin/bash
export SVWAIT=20
#{install_dir}/embedded/bin/omnibus-ctl acme #{install_dir}/embedded/service/omnibus-ctl $@
       EOH
    end
  end
end
