add_command "upgrade", "Upgrade.", 1 do
  status = run_command("sleep 30 ; ./bin/partybus upgrade")
end

add_command "widget-reset", "Reset widgets.", 2 do
end
