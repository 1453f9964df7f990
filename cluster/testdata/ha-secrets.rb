# source: constructed: an HA private-chef.rb holding the secret settings the
# 11.1.8 packaging knows (libraries/private_chef.rb generate_secrets and
# gen_ldap; attributes/default.rb), every secret value fake and marked with a
# prefix the tests look for
topology "ha"
server "be1.example.com",
  :ipaddress => "192.168.4.1",
  :role => "backend",
  :bootstrap => true,
  :cluster_ipaddress => "10.1.2.10"
server "be2.example.com",
  :ipaddress => "192.168.4.6",
  :role => "backend",
  :cluster_ipaddress => "10.1.2.12"
backend_vip "be.example.com",
  :ipaddress => "192.168.4.7",
  :device => "eth0",
  :heartbeat_device => "eth1"
server "fe1.example.com",
  :ipaddress => "192.168.4.2",
  :role => "frontend"
api_fqdn "chef.example.com"

# Pinned so both back ends agree after a rebuild (copied from
# /etc/opscode/private-chef-secrets.json on the bootstrap).
postgresql['sql_password'] = "FAKEsqlpw0a1b2c3d4e5f"
postgresql['sql_ro_password'] = 'FAKEsqlro9f8e7d6'
rabbitmq['password'] = "FAKErabbit#not-a-comment"
rabbitmq['jobs_password'] = "FAKEjobs"
rabbitmq['actions_password'] = "FAKEactions\"quoted\""
opscode_webui['cookie_secret'] = "FAKEcookie47b3b8d95dea455b"
opscode_account['session_secret_key'] = "FAKEsession44bba2ef"
drbd['shared_secret'] = "FAKEdrbdpromises"
keepalived['vrrp_instance_password'] = "FAKEvrrpsneaky"
oc_bifrost['superuser_id'] = "FAKE5ca1ab1ef005ba111abe11ed"
oc_bifrost['sql_password'] = "FAKEbifrostpw"
oc_bifrost['sql_ro_password'] = "FAKEbifrostro"
bookshelf['access_key_id'] = "FAKEaccesskeyid0123"
bookshelf['secret_access_key'] = "FAKEsecretaccesskey4567"
opscode_erchef['s3_token'] = FAKEbareword

ldap['host'] = "ldap.example.com"
ldap['base_dn'] = "OU=Users,DC=example,DC=com"
ldap['bind_dn'] = "CN=chef,OU=svc,DC=example,DC=com"
ldap["bind_password"] = "FAKEldap pw with spaces" # the service account
nginx['ssl_certificate'] = "/etc/opscode/chef.example.com.crt"
nginx['ssl_certificate_key'] = "/etc/opscode/chef.example.com.key"
opscode_erchef['root_metric_key'] = "chefAPI"
opscode_webui['session_key'] = "_sandbox_session"
nginx['non_ssl_port'] = false
opscode_erchef['max_request_size'] = 2000000
