# Bar chart of server CPU µs per request, for bench/peers.sh.
# usage: gnuplot -e "data='chart.dat'; out='latest.png'; subtitle='...'" bench/plot.gp
# data: one server a line, "name us_per_req color" (color 1 = libturbo,
# 2 = floor, 3 = the others), in the order to draw.
set terminal pngcairo size 1100,700 font "sans,10" noenhanced
set output out
set title "GET /hello, server CPU per request (lower is better)\n".subtitle
set logscale y
set yrange [0.5:*]
set ylabel "server CPU µs per request (log scale)"
set grid ytics mytics
set style fill solid 0.85 border -1
set boxwidth 0.7
set xtics rotate by 30 right scale 0 nomirror
set ytics nomirror
set bmargin 12
unset key
set linetype 1 lc rgb "#d7301f"
set linetype 2 lc rgb "#737373"
set linetype 3 lc rgb "#4a7ab5"
plot data using 0:2:3:xtic(1) with boxes lc variable, \
     data using 0:2:(sprintf("%.2f", $2)) with labels offset 0,0.7 font ",9"
