// Highlights the passage named in the address (#p<passage id>) across the segments it
// covers (passages overlap, so a passage is a run of segments) and scrolls to it.
(function () {
  "use strict";

  function highlight() {
    document.querySelectorAll(".seg.hl").forEach(function (node) { node.classList.remove("hl"); });
    const match = /^#p(\d+)$/.exec(window.location.hash);
    if (!match) return;
    const segments = document.querySelectorAll('.seg[data-p~="' + match[1] + '"]');
    segments.forEach(function (node) { node.classList.add("hl"); });
    const anchor = document.getElementById("p" + match[1]);
    if (anchor && segments.length) anchor.scrollIntoView({ block: "start" });
  }

  window.addEventListener("hashchange", highlight);
  highlight();
})();
