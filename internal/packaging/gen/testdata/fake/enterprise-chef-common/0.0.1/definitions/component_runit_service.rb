define :component_runit_service, :log_directory => nil, :ha => nil, :action => :enable do
  component = params[:name]
  if ha_topology?
    keep = params[:ha].nil? ? node['private_chef'][component]['ha'] : params[:ha]
    file "#{node['runit']['sv_dir']}/#{component}/keepalive_me" do
      action keep ? :create : :delete
    end
  end
end
