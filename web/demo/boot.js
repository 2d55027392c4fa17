// Classic (non-module) script: runs even from file://, where it explains what to do
// instead of letting the module and WebAssembly loads fail silently; otherwise it loads
// the app module at once.
(function () {
  "use strict";
  if (location.protocol === "file:") {
    document.addEventListener("DOMContentLoaded", function () {
      document.getElementById("file-warning").hidden = false;
      document.getElementById("loading").hidden = true;
    });
    return;
  }
  var script = document.createElement("script");
  script.type = "module";
  script.src = new URL("app.js", document.currentScript ? document.currentScript.src : location.href).href;
  document.head.appendChild(script);
})();
