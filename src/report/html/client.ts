/**
 * The page's script (plain ES2017, inlined by page.ts): draws each ChartSpec with uPlot, shades
 * bands, marks markers, sizes charts to the page (and to paper when printing), and with a live
 * dashboard replaces the page's content with each update it receives (Server-Sent Events).
 * Numbers in the legend (uPlot's live legend: the tooltip) are the exact values of the data.
 */
export const CLIENT_SCRIPT = String.raw`(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var plots = [];
  var updates = 0;
  function trim(value, digits) { return String(Number(value.toFixed(digits))); }
  function exact(value) { return value == null ? "–" : String(Number(value.toPrecision(7))); }
  function percentOf(x) {
    var p = (1 - 1 / x) * 100;
    return (p >= 99.99 ? trim(p, 3) : p >= 99 ? trim(p, 2) : trim(p, 1)) + "%";
  }
  function isPowerOf10(v) { var l = Math.log10(v); return Math.abs(l - Math.round(l)) < 1e-9; }
  function plotWidth(el) {
    var main = document.getElementById("report");
    var style = getComputedStyle(main);
    var inner = main.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return Math.max(320, Math.floor(Math.min(el.clientWidth || inner, inner)));
  }
  function drawBands(chart) {
    return function (u) {
      var ctx = u.ctx, box = u.bbox;
      ctx.save();
      ctx.beginPath(); ctx.rect(box.left, box.top, box.width, box.height); ctx.clip();
      (chart.bands || []).forEach(function (band) {
        var top = u.valToPos(band.toY, "y", true), bottom = u.valToPos(band.fromY, "y", true);
        ctx.fillStyle = band.color;
        ctx.fillRect(box.left, top, box.width, bottom - top);
      });
      ctx.restore();
    };
  }
  function drawMarkers(chart) {
    return function (u) {
      var ctx = u.ctx, box = u.bbox;
      (chart.markers || []).forEach(function (marker) {
        var x = u.valToPos(marker.x, "x", true);
        ctx.save();
        ctx.strokeStyle = marker.color; ctx.fillStyle = marker.color;
        ctx.lineWidth = 2 * devicePixelRatio; ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
        ctx.beginPath(); ctx.moveTo(x, box.top); ctx.lineTo(x, box.top + box.height); ctx.stroke();
        ctx.font = (12 * devicePixelRatio) + "px sans-serif";
        ctx.fillText(marker.label, x + 4 * devicePixelRatio, box.top + 14 * devicePixelRatio);
        ctx.restore();
      });
    };
  }
  function options(chart, width) {
    var logX = chart.x.kind === "percentile" || chart.x.kind === "log";
    var xs = chart.x.values;
    var scales = { x: { time: false, distr: logX ? 3 : 1 }, y: { distr: chart.y.log ? 3 : 1 } };
    // The data's own x range (uPlot rounds a log axis out to whole decades otherwise).
    if (xs.length > 1) scales.x.range = function () { return [xs[0], xs[xs.length - 1]]; };
    if (!chart.y.log) {
      var floor = chart.y.min == null ? 0 : chart.y.min;
      scales.y.range = function (u, min, max) { return [Math.min(floor, min), max > floor ? max * 1.08 : floor + 1]; };
    }
    if (chart.y2) scales.y2 = { range: function (u, min, max) { return [0, max > 0 ? max * 1.08 : 1]; } };
    var xValue = chart.x.kind === "percentile"
      ? function (u, v) { return v == null ? "–" : percentOf(v); }
      : function (u, v) { return exact(v); };
    var series = [{ label: chart.x.label, value: xValue }].concat(chart.series.map(function (s) {
      return { label: s.label, stroke: s.color, width: 1.5, dash: s.dash ? [6, 4] : undefined,
        scale: s.scale || "y", spanGaps: false, points: { show: false },
        value: function (u, v) { return exact(v); } };
    }));
    var axes = [
      { label: chart.x.label, values: chart.x.kind === "percentile"
        ? function (u, splits) { return splits.map(function (v) { return isPowerOf10(v) ? percentOf(v) : ""; }); }
        : undefined },
      { label: chart.y.label, scale: "y", size: 60 },
    ];
    if (chart.y2) axes.push({ label: chart.y2.label, scale: "y2", side: 1, size: 60, grid: { show: false } });
    // Charts on one time axis keep the same plot width: a blank right gutter where there is no y2.
    else if (chart.x.kind === "seconds")
      axes.push({ scale: "y", side: 1, size: 60, label: " ", grid: { show: false }, ticks: { show: false }, values: function () { return []; } });
    return {
      width: width, height: 240, scales: scales, series: series, axes: axes,
      cursor: chart.sync ? { sync: { key: chart.sync } } : {},
      hooks: { drawClear: [drawBands(chart)], draw: [drawMarkers(chart)] },
    };
  }
  function bandLegend(chart, figure) {
    if (!chart.bands || chart.bands.length === 0) return;
    var list = document.createElement("p");
    list.className = "bands";
    chart.bands.forEach(function (band) {
      var item = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = band.color;
      item.appendChild(swatch);
      item.appendChild(document.createTextNode(band.label));
      list.appendChild(item);
    });
    figure.appendChild(list);
  }
  function drawAll() {
    data.charts.forEach(function (chart) {
      var figure = document.getElementById(chart.id);
      if (!figure) return;
      var el = figure.querySelector(".plot");
      var plot = new uPlot(options(chart, plotWidth(el)), [chart.x.values].concat(chart.series.map(function (s) { return s.values; })), el);
      plot.loadTestEl = el;
      plots.push(plot);
      bandLegend(chart, figure);
    });
    document.body.setAttribute("data-charts-drawn", String(plots.length));
    // When the page was drawn, from the start of its navigation (bench/html-report.mjs reads it).
    document.body.setAttribute("data-drawn-at-ms", performance.now().toFixed(1));
  }
  function resizeAll(width) {
    plots.forEach(function (plot) { plot.setSize({ width: width || plotWidth(plot.loadTestEl), height: 240 }); });
  }
  var resizeTimer;
  window.addEventListener("resize", function () { clearTimeout(resizeTimer); resizeTimer = setTimeout(function () { resizeAll(); }, 100); });
  // Paper is narrower than a screen: charts are redrawn to fit an A4/Letter page.
  window.addEventListener("beforeprint", function () { resizeAll(660); });
  window.addEventListener("afterprint", function () { resizeAll(); });
  drawAll();
  if (data.live) {
    document.body.setAttribute("data-live", "connecting");
    var source = new EventSource(data.live);
    source.onmessage = function (event) {
      var update = JSON.parse(event.data);
      plots.forEach(function (plot) { plot.destroy(); });
      plots = [];
      document.title = update.title;
      document.getElementById("report").innerHTML = update.main;
      data.charts = update.charts;
      drawAll();
      updates++;
      document.body.setAttribute("data-updates", String(updates));
      document.body.setAttribute("data-live", update.final ? "final" : "live");
      if (update.final) source.close();
    };
    source.onerror = function () {
      // The run ended (the generator closed the stream): the page keeps what it last showed.
      if (document.body.getAttribute("data-live") !== "final") document.body.setAttribute("data-live", "closed");
      source.close();
    };
  }
})();`;
