a = %w[one two three]
b = { :k => 1, "s" => 'q', lbl: 0755 }
c = /re#{x}gex/i if d =~ /^6/
e = `uname -r`
f = ?x
g = x ? :yes : :no
h = %Q(nested (parens) #{interp})
=begin
a block comment
=end
i = 1_000 + 2.5e3
