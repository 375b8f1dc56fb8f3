// Live character count for post composers. It counts what the server counts: Unicode code
// points after NFC normalisation, so "é" typed as one or two code points counts as one.
(function () {
  "use strict";

  function countCharacters(text) {
    return [...text.normalize("NFC")].length;
  }

  function attach(textarea) {
    var output = document.getElementById(textarea.dataset.counter);
    if (!output) {
      return;
    }
    var limit = parseInt(textarea.dataset.maxChars, 10);
    function update() {
      var used = countCharacters(textarea.value);
      var left = limit - used;
      output.textContent = used + " / " + limit;
      output.classList.toggle("over", left < 0);
      output.setAttribute(
        "aria-label",
        left < 0 ? (-left) + " characters over the limit" : left + " characters left"
      );
    }
    textarea.addEventListener("input", update);
    update();
  }

  document.querySelectorAll("textarea[data-counter]").forEach(attach);
})();
