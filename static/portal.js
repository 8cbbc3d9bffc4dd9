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

  // A list's search filters (FAB's ab_filters.js) are rows of a remove link naming the column, a
  // select of how to compare and the value's field, none of them labelled: name them after the column.
  var filterRows = 0;

  function labelFilters(table) {
    var form = table.closest("form");
    $(table).find("tr").each(function () {
      var row = $(this);
      var remove = row.find("a.remove-filter");
      var column = $.trim(remove.text().replace("\u00d7", ""));
      if (!column) {
        return;
      }
      if (!row.data("portalLabel")) {
        filterRows += 1;
        var id = "portal-filter-" + filterRows;
        row.data("portalLabel", id);
        remove.attr("aria-label", column + " \u2013 " + (form.getAttribute("data-portal-remove") || ""));
        $("<span class='sr-only'/>").attr("id", id).text(column).appendTo(remove.parent());
        $("<span class='sr-only'/>").attr("id", id + "-how").text(form.getAttribute("data-portal-how") || "")
          .appendTo(remove.parent());
      }
      var label = row.data("portalLabel");
      nameField(row.find("select.filter-op"), label + " " + label + "-how");
      nameField(row.find(".filter_val"), label);
    });
  }

  // A field, or the select2 box standing in for it, named by the elements with these ids.
  function nameField(field, ids) {
    field.attr("aria-labelledby", ids);
    field.next(".select2-container").find(".select2-selection[role=combobox]").each(function () {
      var shown = (this.getAttribute("aria-labelledby") || "").split(" ").filter(function (id) {
        return id.indexOf("select2-") === 0;
      });
      this.setAttribute("aria-labelledby", [ids].concat(shown).join(" "));
    });
  }

  window.portalLabelComboboxes = labelComboboxes;
  $(function () {
    // Font Awesome draws its icons as text: without this a screen reader reads a button labelled
    // "Add" as "Add" plus an unpronounceable glyph (FAB's own buttons never hide their icons).
    $("i.fa, span.fa, i.fas, i.far").attr("aria-hidden", "true");
    // FAB gives every select2 box a "×" that empties it; a required field must not offer that.
    $("select.my_select2[required]").each(function () {
      var select = $(this);
      if (select.data("select2")) {
        select.select2({theme: "bootstrap", allowClear: false, placeholder: select.data("placeholder") || ""});
      }
    });
    labelComboboxes();
    $("#filter_form .filters").each(function () {
      var table = this;
      var form = table.closest("form");
      form.setAttribute("data-portal-how", document.body.getAttribute("data-text-compare") || "");
      form.setAttribute("data-portal-remove", document.body.getAttribute("data-text-remove-filter") || "");
      labelFilters(table);
      new MutationObserver(function () { labelFilters(table); }).observe(table, {childList: true, subtree: true});
    });
    // A multi-select redraws its search box after every choice.
    $(document).on("select2:select select2:unselect", function () {
      labelComboboxes();
    });
  });
})();
