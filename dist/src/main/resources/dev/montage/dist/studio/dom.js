// Building form controls: a labelled input inside a .field, named by the API path its errors come back under; the
// cards of a list (subjects, controls, LoRAs) and their buttons; settings typed as "key=value, …".

/** "low=50, high=150" as the object of settings the API takes (text values). */
export function parseSettings(text) {
  const settings = {};
  text.split(',').map((t) => t.trim()).filter(Boolean).forEach((pair) => {
    const eq = pair.indexOf('=');
    settings[eq < 0 ? pair : pair.slice(0, eq).trim()] = eq < 0 ? '' : pair.slice(eq + 1).trim();
  });
  return settings;
}

/** An object of settings as "key=value, …" text. */
export function formatSettings(settings) {
  return Object.entries(settings ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
}

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

/** A li.card of a list, named by the API path of its item (e.g. controls[0]) and keyed by the item's own key. */
export function listCard(kind, field, key) {
  const li = document.createElement('li');
  li.className = `card ${kind}`;
  li.dataset.field = field;
  li.dataset.key = key;
  return li;
}

/** A button that is not a submit button, labelled for assistive technology where its text alone is ambiguous. */
export function button(text, onClick, label) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  if (label) {
    b.setAttribute('aria-label', label);
  }
  b.addEventListener('click', onClick);
  return b;
}
