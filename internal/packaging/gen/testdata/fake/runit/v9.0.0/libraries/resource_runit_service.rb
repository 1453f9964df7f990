class RunitService
  def initialize
    @restart_on_update = true
  end
end
