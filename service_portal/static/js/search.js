/* The results map: markers from the page's own JSON (#results-data), clustered, in the
   same order as the list. The page works without this script; it only adds the map. */
(function () {
  "use strict";
  var box = document.getElementById("map");
  var data = document.getElementById("results-data");
  if (!box || !data || !window.L) { return; }
  var results;
  try { results = JSON.parse(data.textContent); } catch (e) { return; }
  if (!results.length) { return; }
  box.hidden = false;
  var map = L.map(box, { scrollWheelZoom: false });
  map.attributionControl.setPrefix(false);
  L.tileLayer(box.dataset.tiles, {
    maxZoom: 19,
    attribution: box.dataset.attribution
  }).addTo(map);
  var cluster = L.markerClusterGroup ? L.markerClusterGroup() : L.layerGroup();
  var markers = results.map(function (r) {
    var marker = L.marker([r.lat, r.lon], { title: r.name, alt: r.name, keyboard: true });
    marker.shopId = r.id;
    var link = document.createElement("a");
    link.href = r.url;
    link.textContent = r.name;  // text, never HTML: names come from data
    marker.bindPopup(link);
    return marker;
  });
  if (cluster.addLayers) { cluster.addLayers(markers); } else { markers.forEach(function (m) { cluster.addLayer(m); }); }
  cluster.addTo(map);
  if (markers.length === 1) {
    map.setView(markers[0].getLatLng(), 15);
  } else {
    map.fitBounds(L.latLngBounds(markers.map(function (m) { return m.getLatLng(); })), { padding: [24, 24] });
  }
  // For tests and other scripts: the shop ids of the markers, in list order.
  box.dataset.markerIds = markers.map(function (m) { return m.shopId; }).join(",");
  window.portalMap = { map: map, markers: markers, cluster: cluster };
})();
