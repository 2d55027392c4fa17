// Classic (non-module) script: runs even from file://, where it explains what to do
// instead of letting the module and WebAssembly loads fail silently; otherwise it loads
// the page's module at once (its data-app attribute; app.js by default).
(function () {
  "use strict";
  if (location.protocol === "file:") {
    document.addEventListener("DOMContentLoaded", function () {
      document.getElementById("file-warning").hidden = false;
      document.getElementById("loading").hidden = true;
    });
    return;
  }
  var current = document.currentScript;
  var script = document.createElement("script");
  script.type = "module";
  script.src = new URL((current && current.getAttribute("data-app")) || "app.js", current ? current.src : location.href).href;
  document.head.appendChild(script);
})();
