// Search boxes for related case records (views/autocomplete.py): select2's ajax mode, asking the
// view's autocomplete endpoint for the records that match what is typed.
(function () {
  if (window.portalAutocomplete) {
    return;
  }
  window.portalAutocomplete = true;
  $(function () {
    $("select.portal-autocomplete").each(function () {
      var select = $(this);
      select.select2({
        theme: "bootstrap",
        width: "100%",
        allowClear: !select.prop("required"),
        placeholder: select.data("placeholder") || "",
        ajax: {
          url: select.data("url"),
          dataType: "json",
          delay: 250,
          cache: true,
          data: function (params) {
            return {q: params.term || ""};
          }
        }
      });
    });
    if (window.portalLabelComboboxes) {
      window.portalLabelComboboxes();
    }
  });
})();
