// The site's unpacked packages (lib/startup-packages.bin before gzip): the PackageSet a first
// visit would unpack from the wheels, made by the library's own code (web/lib/packages.js),
// so the site's file and a browser's unpacking cannot differ. Run by sitebuild/startup_packages.py:
//   node tools/make_startup_packages.mjs OUT name=wheel-path ...
import { readFileSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { encodePackageSet, packagesFromWheels } from "../web/lib/packages.js";

const [out, ...specs] = process.argv.slice(2);
const wheels = specs.map((spec) => {
  const [name, path] = spec.split("=");
  return { name, fileName: basename(path), bytes: new Uint8Array(readFileSync(path)) };
});
writeFileSync(out, encodePackageSet(await packagesFromWheels(wheels)));
