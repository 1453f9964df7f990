default['enterprise']['name'] = 'enterprise'
