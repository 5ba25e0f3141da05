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
  // A pop-up tells what the shop's list item tells first: name (a link to its page),
  // distance and open state, copied as text from the item the server rendered in the
  // reader's language (text, never HTML: names come from data).
  function popup(r) {
    var box = document.createElement("div");
    box.className = "map-popup";
    var title = document.createElement("a");
    title.href = r.url;
    title.className = "map-popup-name";
    title.textContent = r.name;
    box.appendChild(title);
    var item = document.getElementById("shop-" + r.id);
    var meta = item && item.querySelector(".meta");
    if (meta) {
      var facts = document.createElement("p");
      facts.textContent = meta.textContent.replace(/\s+/g, " ").trim();
      box.appendChild(facts);
    }
    return box;
  }
  var markers = results.map(function (r) {
    var marker = L.marker([r.lat, r.lon], { title: r.name, alt: r.name, keyboard: true });
    marker.shopId = r.id;
    marker.bindPopup(function () { return popup(r); });
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
  window.portalMap = { map: map, markers: markers, cluster: cluster, active: null };

  // List and map, linked both ways: pointing at or focusing a result highlights its
  // marker (or the cluster holding it: the map does not move under the pointer); choosing a marker highlights its result and
  // brings it into view.
  var byId = {};
  markers.forEach(function (m) { byId[m.shopId] = m; });
  // After zooming, clusters are new elements: move the highlight to what shows now.
  map.on("zoomend", remark);
  if (cluster.on) { cluster.on("animationend", remark); }
  function remark() {
    if (window.portalMap.active !== null) { mark(window.portalMap.active, true); }
  }
  var activeItem = null;

  var activeIcon = null;

  // The marker's icon, or that of the cluster holding it while the cluster is closed.
  function iconOf(marker) {
    var shown = cluster.getVisibleParent ? cluster.getVisibleParent(marker) : marker;
    return shown && shown.getElement ? shown.getElement() : null;
  }

  function mark(id, on) {
    var marker = byId[id];
    if (!marker) { return; }
    marker.setZIndexOffset(on ? 1000 : 0);
    if (activeIcon) { activeIcon.classList.remove("is-active"); activeIcon = null; }
    if (on) {
      activeIcon = iconOf(marker);
      if (activeIcon) { activeIcon.classList.add("is-active"); }
    }
    window.portalMap.active = on ? id : null;
  }

  function highlightItem(id, scroll) {
    if (activeItem) { activeItem.classList.remove("is-active"); }
    activeItem = document.getElementById("shop-" + id);
    if (!activeItem) { return; }
    activeItem.classList.add("is-active");
    if (scroll) { activeItem.scrollIntoView({ block: "nearest", behavior: "smooth" }); }
  }

  var list = document.getElementById("results");
  if (list) {
    var point = function (event) {
      var item = event.target.closest && event.target.closest("li.result");
      if (!item) { return; }
      var id = Number(item.dataset.shopId);
      if (window.portalMap.active !== null && window.portalMap.active !== id) {
        mark(window.portalMap.active, false);
      }
      highlightItem(id, false);
      mark(id, true);
    };
    list.addEventListener("mouseover", point);
    list.addEventListener("focusin", point);
  }

  markers.forEach(function (marker) {
    marker.on("click keypress", function () {
      if (window.portalMap.active !== null) { mark(window.portalMap.active, false); }
      mark(marker.shopId, true);
      highlightItem(marker.shopId, true);
    });
  });
})();
