// Building form controls: a labelled input inside a .field, named by the API path its errors come back under.

/** A div.field holding a label and an input of the given type; returns [div, input]. */
export function labelled(type, id, label, value, field) {
  const div = document.createElement('div');
  div.className = 'field';
  const l = document.createElement('label');
  l.htmlFor = id;
  l.textContent = label;
  const input = document.createElement('input');
  input.type = type;
  input.id = id;
  input.value = value ?? '';
  input.dataset.field = field;
  div.append(l, input);
  return [div, input];
}
