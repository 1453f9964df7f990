add_command "ha-status", "Say how HA is.", 1 do
  state = File.read("/var/opt/acme/keepalived/state").chomp
  ha_services = Dir.chdir("/opt/acme/sv"){Dir.glob('**/keepalive_me').map{|f| File.dirname(f)}}.sort
  exit 0
end
