/* The coverage map: a rectangle per counted cell (#coverage-data), the darker the larger
   the share of searches that found no authorised or partner shop. The page works without
   this script: the table below says the same in words. */
(function () {
  "use strict";
  var box = document.getElementById("coverage-map");
  var data = document.getElementById("coverage-data");
  if (!box || !data || !window.L) { return; }
  var cells;
  try { cells = JSON.parse(data.textContent); } catch (e) { return; }
  if (!cells.length) { return; }
  box.hidden = false;
  var map = L.map(box, { scrollWheelZoom: false });
  map.attributionControl.setPrefix(false);
  L.tileLayer(box.dataset.tiles, { maxZoom: 12, attribution: box.dataset.attribution }).addTo(map);
  var layers = cells.map(function (c) {
    var b = c.bounds;  // [south, west, north, east]
    var rect = L.rectangle([[b[0], b[1]], [b[2], b[3]]], {
      color: "#7a1f1f", weight: 1, fillColor: "#b22222",
      fillOpacity: 0.15 + 0.6 * Math.max(0, Math.min(1, c.ratio))
    });
    // Leaflet writes a string as HTML: the label goes in as text, in an element.
    var label = document.createElement("span");
    label.textContent = c.label;
    rect.bindTooltip(label);
    return rect.addTo(map);
  });
  map.fitBounds(L.featureGroup(layers).getBounds(), { padding: [16, 16], maxZoom: 9 });
  box.dataset.cells = String(layers.length);
  window.portalCoverageMap = { map: map, layers: layers };
})();
