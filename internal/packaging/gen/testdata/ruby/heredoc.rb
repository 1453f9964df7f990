content <<-EOH
  PATH=#{node['x']['path']}
  EOH
open(path, "w") do |f|
  f.print <<-EOS, "tail"
body
  EOS
end
list << "item"
