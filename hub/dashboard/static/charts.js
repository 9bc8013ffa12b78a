// Reports: the daily sales trend drawn with the vendored uPlot (no network needed).
(function () {
  "use strict";
  var holder = document.getElementById("trend-chart");
  var source = document.getElementById("trend-data");
  if (!holder || !source || !window.uPlot) { return; }
  var d = JSON.parse(source.textContent);
  var xs = d.days.map(function (day) { return Date.parse(day + "T12:00:00Z") / 1000; });
  var amounts = d.amounts.map(function (v) { return v / d.scale; });
  var width = Math.max(320, holder.clientWidth - 16);
  var opts = {
    width: width,
    height: 280,
    series: [
      {},
      { label: "Net sales (" + d.currency + ")", stroke: "#2357a6", fill: "rgba(35,87,166,0.12)", width: 2,
        value: function (u, v) { return v === null ? "—" : v.toFixed(2); } },
      { label: "Units", stroke: "#1f8a4c", width: 1.5, scale: "units" }
    ],
    axes: [
      {},
      { label: d.currency, values: function (u, vals) { return vals.map(function (v) { return v.toFixed(0); }); } },
      { side: 1, scale: "units", label: "units", grid: { show: false } }
    ],
    scales: { x: { time: true } }
  };
  holder.setAttribute("data-points", String(xs.length));
  new window.uPlot(opts, [xs, amounts, d.units], holder);
}());
