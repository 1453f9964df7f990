module Omnibus
  class Ctl
    def initialize(name)
      @name = name
      @display_name = name
      @command_map = {
        "reconfigure" => { :desc => "Reconfigure #{name}.", :arity => 1 },
        "help" => { :arity => 1 }
      }
      service_command_map = {
        "stop" => {
          :desc => "Stop.",
          :arity => 2
        }
      }
    end

    def run_sv_command(sv_cmd, service=nil)
      get_all_services.each do |service_name|
        next if service_name == "keepalived" && service != "keepalived"
      end
    end

    def reconfigure
      log "#{display_name} Reconfigured!"
    end

    def run(args)
      command_to_run = args[0]
      log "I don't know that command." unless command_map.has_key?(command_to_run)
    end
  end
end
