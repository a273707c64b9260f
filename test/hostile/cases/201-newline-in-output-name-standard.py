# expect: ok
# floor: ok
# policy: standard
# One file with an unusable name (a newline in it) among good ones under /tmp/outputs: that file is
# not returned, and nothing else changes (the run is not output_limit, far under both caps).
open('/tmp/outputs/good.txt', 'w').write('good')
open('/tmp/outputs/bad\nname.txt', 'w').write('bad')
open('/tmp/outputs/other.csv', 'w').write('a,b\n1,2\n')
print('wrote three files')
