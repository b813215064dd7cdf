# Latency against offered rate for one TechEmpower test, for bench/tfb/run.sh.
# usage: gnuplot -e "dir='D'; test='json'; title='GET /json'; servers='c python'; out='x.png'" bench/tfb/latency.gp
# data: D/TEST.SERVER.dat, lines "rate_req_s p50_ms p99_ms p999_ms".
set terminal pngcairo size 1100,700 font "sans,10" noenhanced
set output out
set title title.", open-loop latency against offered rate (bench/tfb_load.c; lower is better)"
set logscale y
set xlabel "offered rate, requests/s (fractions of each server's own saturation)"
set ylabel "latency, ms (log scale): p99 solid, p50 dashed"
set grid xtics ytics mytics
set key outside right top
set xtics nomirror
set ytics nomirror
n = words(servers)
plot for [i = 1:n] sprintf("%s/%s.%s.dat", dir, test, word(servers, i)) using 1:3 with linespoints lt i lw 2 pt 7 title word(servers, i)." p99", \
     for [i = 1:n] sprintf("%s/%s.%s.dat", dir, test, word(servers, i)) using 1:2 with linespoints lt i lw 1 dt 2 pt 6 title word(servers, i)." p50"
