/* Enhancements of the search forms: place suggestions from /api/v1/places, "use my
   location" (fills lat/lon), and models narrowed to the chosen brand. Without this
   script the forms work as they are. */
(function () {
  "use strict";
  var near = document.getElementById("near");
  if (!near) { return; }
  var form = near.form;
  var list = document.getElementById("place-options");
  var lat = document.getElementById("lat");
  var lon = document.getElementById("lon");
  var country = document.getElementById("country");
  var status = document.getElementById("locate-status");
  var places = [];
  var timer = null;

  function useTyped() {
    // A typed place replaces a located position and a country chosen earlier.
    lat.disabled = lon.disabled = true;
    near.required = true;
    if (country) { country.disabled = true; }
  }

  function suggest() {
    var q = near.value.trim();
    if (q.length < 2 || !list) { return; }
    var url = near.dataset.places + "?q=" + encodeURIComponent(q);
    fetch(url, { headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { results: [] }; })
      .then(function (body) {
        places = body.results || [];
        list.replaceChildren();
        places.forEach(function (p) {
          var option = document.createElement("option");
          option.value = p.name;
          option.label = p.label;
          list.appendChild(option);
        });
      })
      .catch(function () { /* suggestions are a convenience only */ });
  }

  near.addEventListener("input", function () {
    useTyped();
    var picked = places.filter(function (p) { return p.name === near.value; })[0];
    if (picked) {
      if (!country) {
        country = document.createElement("input");
        country.type = "hidden";
        country.name = "country";
        country.id = "country";
        form.appendChild(country);
      }
      country.value = picked.country;
      country.disabled = false;
      return;
    }
    clearTimeout(timer);
    timer = setTimeout(suggest, 200);
  });

  var locate = document.getElementById("locate");
  if (locate && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", function () {
      status.textContent = locate.dataset.waiting || "…";
      navigator.geolocation.getCurrentPosition(function (position) {
        lat.value = position.coords.latitude.toFixed(5);
        lon.value = position.coords.longitude.toFixed(5);
        lat.disabled = lon.disabled = false;
        near.value = "";
        near.required = false;
        if (country) { country.disabled = true; }
        // requestSubmit runs the submit handler below, which keeps empty fields out of
        // the link; submit() would skip it.
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      }, function () {
        status.textContent = locate.dataset.failed || "";
      }, { enableHighAccuracy: false, timeout: 10000, maximumAge: 300000 });
    });
  }

  // Only what the owner changed goes into the link: empty fields and those left at their
  // default (data-default: radius 50, nearest first) stay out, so a shared search reads
  // cleanly and the results page does not mistake a default for a chosen filter.
  form.addEventListener("submit", function () {
    Array.prototype.forEach.call(form.elements, function (field) {
      if (!field.name || field.type === "submit") { return; }
      if (!field.value || field.value === field.dataset.default) { field.disabled = true; }
    });
  });

  window.addEventListener("pageshow", function () {  // back from the results page
    Array.prototype.forEach.call(form.elements, function (field) {
      if (field !== lat && field !== lon && field !== country) { field.disabled = false; }
    });
  });

  // Models: only those of the chosen brand (the full grouped list stays without JS).
  var brand = document.getElementById("brand");
  var model = document.getElementById("model");
  if (brand && model) {
    var narrow = function () {
      var chosen = brand.value;
      Array.prototype.forEach.call(model.querySelectorAll("optgroup"), function (group) {
        var show = !chosen || group.dataset.brand === chosen;
        group.hidden = !show;
        group.disabled = !show;
      });
      var selected = model.selectedOptions[0];
      if (selected && selected.parentNode.disabled) { model.value = ""; }
    };
    brand.addEventListener("change", narrow);
    narrow();
  }
})();
