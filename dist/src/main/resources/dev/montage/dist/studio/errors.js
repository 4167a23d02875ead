// The server's field errors ({field: "subjects[1].phrase", message}) shown next to the form control that field
// names: elements carry the API's path in data-field; a path without its own element goes to its nearest named
// parent (subjects[1].sha256 to the card of subjects[1]), and one without any to the summary at the top.

let counter = 0;

export function clearErrors(form) {
  form.querySelectorAll('.field-error[data-for]').forEach((p) => p.remove());
  form.querySelectorAll('[aria-invalid="true"]').forEach((el) => {
    el.removeAttribute('aria-invalid');
    const ids = (el.getAttribute('aria-describedby') ?? '').split(' ').filter((id) => !id.startsWith('error-'));
    if (ids.length) {
      el.setAttribute('aria-describedby', ids.join(' '));
    } else {
      el.removeAttribute('aria-describedby');
    }
  });
  const summary = form.querySelector('#form-errors');
  summary.replaceChildren();
  summary.hidden = true;
}

function target(form, field) {
  for (let path = field; path; path = parent(path)) {
    const el = form.querySelector(`[data-field="${CSS.escape(path)}"]`);
    if (el) {
      return el;
    }
  }
  return null;
}

function parent(path) {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut > 0 ? path.slice(0, cut) : null;
}

/** Shows each error beside its control; focuses the first control in error. */
export function showErrors(form, errors) {
  clearErrors(form);
  const summary = form.querySelector('#form-errors');
  const unplaced = [];
  let first = null;
  for (const error of errors) {
    const el = error.field ? target(form, error.field) : null;
    if (!el) {
      unplaced.push(error);
      continue;
    }
    const p = document.createElement('p');
    p.className = 'field-error';
    p.id = `error-${++counter}`;
    p.dataset.for = error.field;
    p.textContent = el.dataset.field === error.field ? error.message : `${error.field} ${error.message}`;
    const control = el.matches('input, select, textarea, canvas') ? el : null;
    (control ?? el).setAttribute('aria-invalid', 'true');
    const described = (el.getAttribute('aria-describedby') ?? '').split(' ').filter(Boolean);
    el.setAttribute('aria-describedby', [...described, p.id].join(' '));
    if (control) {
      (control.closest('.field') ?? control).after(p);
    } else {
      el.prepend(p);
    }
    first = first ?? (control ?? el.querySelector('input, select, textarea, button'));
  }
  summary.hidden = false;
  const heading = document.createElement('p');
  heading.textContent = errors.length === 1 ? 'The server refused one field:' : `The server refused ${errors.length} fields:`;
  summary.append(heading);
  if (unplaced.length) {
    const list = document.createElement('ul');
    unplaced.forEach((e) => {
      const li = document.createElement('li');
      li.textContent = (e.field ? `${e.field} ` : '') + e.message;
      list.append(li);
    });
    summary.append(list);
  }
  first?.focus();
}
