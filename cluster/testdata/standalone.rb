# source: constructed from Chef's published standalone example
topology "standalone"
api_fqdn "chef.example.com"
