// Classic (non-module) script: runs even from file://, where it explains what to do
// instead of letting the module and WebAssembly loads fail silently.
(function () {
  "use strict";
  if (location.protocol === "file:") {
    document.getElementById("file-warning").hidden = false;
    document.getElementById("loading").hidden = true;
    return;
  }
  var script = document.createElement("script");
  script.type = "module";
  script.src = new URL("app.js", document.currentScript ? document.currentScript.src : location.href).href;
  document.head.appendChild(script);
})();
