"""The test helper `form_values` posts what a browser posts for a form as rendered."""
from conftest import form_values

PAGE = """
<form method="post" action="/logout/"><input type="hidden" name="csrf_token" value="other-form"></form>
<form id="model_form" method="post">
  <input type="hidden" name="csrf_token" value="t&amp;k">
  <input name="city" value="Utrecht">
  <input type="text" name="empty">
  <input type="checkbox" name="ticked" value="y" checked>
  <input type="checkbox" name="unticked" value="y">
  <input type="checkbox" name="bare" checked>
  <input type="radio" name="choice" value="a"><input type="radio" name="choice" value="b" checked>
  <input name="locked" value="x" disabled>
  <fieldset disabled><input name="in_disabled_fieldset" value="x"></fieldset>
  <input type="submit" name="save" value="Opslaan"><button name="button" value="x">Go</button>
  <input type="date" name="typed_date" value="1-1-2026"><input type="date" name="good_date" value="2026-01-01">
  <select name="plain"><option value="">—</option><option value="2">Twee</option></select>
  <select name="picked"><option value="1">Een</option><option value="2" selected>Twee</option></select>
  <select name="parties" multiple><option value="1" selected>Een</option><option value="2">Twee</option>
    <option value="3" selected>Drie</option></select>
  <select name="nobody" multiple><option value="1">Een</option></select>
  <select name="no_value"><option selected> Zonder  waarde </option></select>
  <textarea name="notes">
Regel een
Regel twee</textarea>
</form>
"""


def test_a_form_is_posted_as_a_browser_posts_it():
    assert form_values(PAGE) == {
        "csrf_token": "t&k", "city": "Utrecht", "empty": "", "ticked": "y", "bare": "on", "choice": "b",
        "typed_date": "", "good_date": "2026-01-01", "plain": "", "picked": "2", "parties": ["1", "3"],
        "nobody": [], "no_value": "Zonder waarde", "notes": "Regel een\r\nRegel twee",
    }
