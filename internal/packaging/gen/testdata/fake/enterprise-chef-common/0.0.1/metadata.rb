name 'enterprise'
version '0.0.1'
depends 'runit', '= 9.0.0'
