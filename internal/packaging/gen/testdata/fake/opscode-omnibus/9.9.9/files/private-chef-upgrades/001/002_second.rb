define_upgrade do
  if Partybus.config.bootstrap_server
    must_be_data_master
    down_services = ['widget', 'gadget']
    down_services.each{|s| run_command("private-chef-ctl stop #{s}")}
    run_command("private-chef-ctl restart gadget-helper")
    sleep(15)
  end
end
