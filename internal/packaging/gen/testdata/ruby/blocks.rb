module M
  class << self
    def m(a, b=false)
      x = if a then 1 else 2 end
      y ||= begin
        3
      end
      [1, 2].each do |i|
        next unless i
      end
      case b
      when "x", "y" then z
      else w
      end
    end
  end
end
resource "name" do
  property "v" if cond
end.run_action(:create)
chain = thing
  .merge(other)
  .to_hash
