define_upgrade do
  upgrade_schema_to 5
  restart_service "widget"
end
