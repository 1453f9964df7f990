module PrivateChef
  class << self
    def gen_backend(bootstrap=false)
      PrivateChef[:role] = "backend"
      PrivateChef["gadget"]["enable"] = !!bootstrap
    end

    def gen_frontend
      PrivateChef["gadget"]["enable"] ||= false
      PrivateChef["widget"]["vip"] ||= "10.0.0.1"
    end

    def gen_keepalived(node_name)
      PrivateChef["keepalived"]["enable"] ||= true
      PrivateChef["widget"]["ha"] ||= true
    end

    def gen_redundant(node_name, ha=false)
      me = PrivateChef["servers"][node_name]
      case me["role"]
      when "backend"
        gen_backend(me['bootstrap'])
        gen_keepalived(node_name) if ha
      when "frontend"
        gen_frontend
      else
        raise "no role"
      end
    end

    def generate_secrets(node_name)
      system("chmod 0600 /etc/opscode/acme-secrets.json")
    end
  end
end
