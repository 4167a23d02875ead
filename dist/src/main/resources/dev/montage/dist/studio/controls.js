// Controls (depth, canny, pose): a picture or an OpenPose keypoints file each, with the preprocessor's output
// previewed through POST /v1/preprocess and optionally laid over the layout canvas; scale and start/end sliders.

import { button, formatSettings, labelled, listCard, parseSettings } from './dom.js';

const $ = (id) => document.getElementById(id);
let nextKey = 1;

export class Controls {
  constructor(api, pictures) {
    this.api = api;
    this.pictures = pictures;
    this.list = [];
    this.size = { width: 0, height: 0 };
    this.onOverlayChange = () => {};
    $('add-control').addEventListener('click', () => this.add($('control-type').value));
  }

  /** The control types the server serves. */
  setTypes(types) {
    $('control-type').replaceChildren(...types.map((t) => new Option(t, t)));
    $('add-control').disabled = types.length === 0;
    $('controls-note').hidden = types.length > 0;
    $('controls-note').textContent = 'This server serves no ControlNet.';
  }

  add(type, from = {}) {
    const control = { key: nextKey++, type, scale: from.scale ?? 1, start: from.start ?? 0, end: from.end ?? 1,
      options: formatSettings(from.options),
      uploadId: from.uploadId ?? null, keypoints: from.keypoints ?? null, overlay: true, preview: null,
      status: '' };
    this.list.push(control);
    this.render();
    if (control.uploadId || control.keypoints) {
      this.preview(control);
    }
    return control;
  }

  /** The images laid over the canvas. */
  overlays() {
    return this.list.filter((c) => c.overlay && c.preview?.complete).map((c) => c.preview);
  }

  request() {
    return this.list.map((c) => {
      const control = { type: c.type, scale: c.scale, start: c.start, end: c.end };
      if (c.keypoints) {
        control.keypoints = c.keypoints;
      } else {
        control.uploadId = c.uploadId ?? undefined;
      }
      const options = parseSettings(c.options);
      if (Object.keys(options).length) {
        control.options = options;
      }
      return control;
    });
  }

  load(controls) {
    this.list.forEach((c) => c.preview && URL.revokeObjectURL(c.preview.src));
    this.list = [];
    controls.forEach((c) => this.add(c.type, c));
    this.render();
  }

  async choose(control, file) {
    control.keypoints = null;
    control.uploadId = null;
    control.status = 'Reading…';
    this.render();
    try {
      if (file.name.toLowerCase().endsWith('.json') || file.type === 'application/json') {
        control.keypoints = JSON.parse(await file.text());
      } else {
        control.uploadId = await this.api.upload(file);
        this.pictures.set(control.uploadId, URL.createObjectURL(file));
      }
      control.status = file.name;
      await this.preview(control);
    } catch (e) {
      control.status = `Could not read ${file.name}: ${e.message}`;
      this.render();
    }
  }

  /** Runs the control's preprocessor alone on the server and shows what the ControlNet would get. */
  async preview(control) {
    control.status = 'Preprocessing…';
    this.render();
    const body = { type: control.type, width: this.size.width, height: this.size.height,
      options: parseSettings(control.options) };
    if (control.keypoints) {
      body.keypoints = control.keypoints;
    } else {
      body.uploadId = control.uploadId;
    }
    try {
      const blob = await this.api.blob('/v1/preprocess', { method: 'POST',
        headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      if (control.preview) {
        URL.revokeObjectURL(control.preview.src);
      }
      const image = new Image();
      image.onload = () => this.onOverlayChange();
      image.src = URL.createObjectURL(blob);
      control.preview = image;
      control.status = '';
    } catch (e) {
      control.status = `Preview failed: ${e.message}`;
    }
    this.render();
  }

  render() {
    $('controls').replaceChildren(...this.list.map((c, i) => this.card(c, i)));
    this.onOverlayChange();
  }

  card(c, i) {
    const path = `controls[${i}]`;
    const id = (name) => `control-${c.key}-${name}`;
    const li = listCard('control', path, c.key);

    const title = document.createElement('h3');
    title.textContent = `${i + 1}. ${c.type}`;
    title.dataset.field = `${path}.type`;

    const [file, fileInput] = labelled('file', id('file'), c.type === 'pose' ? 'Picture or keypoints (OpenPose JSON)'
      : 'Picture', '', c.keypoints ? `${path}.keypoints` : `${path}.uploadId`);
    fileInput.className = 'control-file';
    fileInput.accept = c.type === 'pose' ? 'image/png,image/jpeg,image/webp,.json,application/json'
      : 'image/png,image/jpeg,image/webp';
    fileInput.addEventListener('change', () => fileInput.files[0] && this.choose(c, fileInput.files[0]));

    const status = document.createElement('p');
    status.className = 'hint';
    status.setAttribute('role', 'status');
    status.textContent = c.status || (c.keypoints ? 'keypoints' : c.uploadId ? `upload ${c.uploadId}` : '');

    const sliders = document.createElement('div');
    sliders.className = 'sliders';
    [['scale', 'Scale', 0, 2], ['start', 'Start', 0, 1], ['end', 'End', 0, 1]].forEach(([key, label, min, max]) => {
      sliders.append(this.slider(c, key, label, min, max, id(key), `${path}.${key}`));
    });

    const [options, optionsInput] = labelled('text', id('options'), 'Options (key=value, …)', c.options,
      `${path}.options`);
    optionsInput.addEventListener('change', () => {
      c.options = optionsInput.value;
      if (c.uploadId || c.keypoints) {
        this.preview(c);
      }
    });

    const figure = document.createElement('div');
    figure.className = 'thumb';
    if (c.preview) {
      const img = document.createElement('img');
      img.className = 'control-preview';
      img.src = c.preview.src;
      img.alt = `What the ${c.type} ControlNet gets`;
      figure.append(img);
    }

    const overlay = document.createElement('label');
    overlay.className = 'check';
    const overlayInput = document.createElement('input');
    overlayInput.type = 'checkbox';
    overlayInput.checked = c.overlay;
    overlayInput.addEventListener('change', () => {
      c.overlay = overlayInput.checked;
      this.onOverlayChange();
    });
    overlay.append(overlayInput, ' Show on the layout');

    const remove = button('Remove', () => {
      this.list = this.list.filter((x) => x !== c);
      this.render();
    }, `Remove control ${i + 1}`);

    li.append(title, figure, file, status, sliders, options, overlay, remove);
    return li;
  }

  slider(c, key, label, min, max, id, field) {
    const [div, input] = labelled('range', id, label, c[key], field);
    div.classList.add('slider');
    input.min = min;
    input.max = max;
    input.step = '0.05';
    input.value = c[key];
    const out = document.createElement('output');
    out.htmlFor = id;
    out.textContent = c[key];
    input.addEventListener('input', () => {
      c[key] = Number(input.value);
      out.textContent = input.value;
    });
    div.append(out);
    return div;
  }
}
