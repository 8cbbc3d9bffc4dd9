// Small fixes to Flask-AppBuilder's widgets, for screen readers and keyboards. Loaded on every page.
(function () {
  "use strict";

  // Select2 draws its own box (role=combobox) next to the hidden <select>, named only by the value
  // it shows: give it the field's label as well, and the search box of a multi-select too.
  function labelComboboxes() {
    $("select.select2-hidden-accessible").each(function () {
      var select = this;
      var label = select.id ? document.querySelector('label[for="' + select.id + '"]') : null;
      if (!label) {
        return;
      }
      if (!label.id) {
        label.id = "label-" + select.id;
      }
      var container = $(select).next(".select2-container");
      container.find(".select2-selection[role=combobox]").each(function () {
        var current = (this.getAttribute("aria-labelledby") || "").split(" ").filter(function (id) {
          return id && id !== label.id;
        });
        this.setAttribute("aria-labelledby", [label.id].concat(current).join(" "));
      });
      container.find("input.select2-search__field").attr("aria-labelledby", label.id);
    });
  }

  window.portalLabelComboboxes = labelComboboxes;
  $(function () {
    labelComboboxes();
    // A multi-select redraws its search box after every choice.
    $(document).on("select2:select select2:unselect", function () {
      labelComboboxes();
    });
  });
})();
