// The composer: prompt, subjects (picture, phrase, box, scale), the adapter's mode, a picture to start from and its
// strength, size, steps, guidance, scheduler, seed and count, with the controls and LoRAs, turned into the request
// body of POST /v1/generations and loaded back from a result's parameters.

import { BoxEditor, COLORS, round4 } from './boxes.js';
import { button, formatSettings, labelled, listCard, parseSettings } from './dom.js';

export const SIZE_PRESETS = [
  [1024, 1024, 'Square'], [1152, 896, '9:7'], [896, 1152, '7:9'], [1216, 832, '3:2'], [832, 1216, '2:3'],
  [1344, 768, '7:4'], [768, 1344, '4:7'], [1536, 640, '12:5'], [640, 1536, '5:12'],
];

const $ = (id) => document.getElementById(id);
let nextKey = 1;

/** The text of a number input as the API wants it: a number, or undefined for the server's default. */
function number(input) {
  return input.value.trim() === '' ? undefined : Number(input.value);
}

function setValue(input, value) {
  input.value = value ?? '';
}

export class Composer {
  /**
   * @param api      the API client
   * @param pictures uploadId → object URL of the pictures this page uploaded, to show them again
   * @param controls the controls list, which sends its part of the request
   * @param loras    the LoRAs list, which sends its part of the request
   */
  constructor(api, pictures, controls, loras) {
    this.api = api;
    this.pictures = pictures;
    this.controls = controls;
    this.form = $('compose');
    this.subjects = [];
    this.activeKey = null;
    this.loras = loras;
    this.phrasesServed = true;
    /** The picture the generation starts from, by its upload id; null to start from noise. */
    this.initUpload = null;
    /** The mask of where that picture is repainted, by its upload id; null to repaint everywhere. */
    this.maskUpload = null;
    this.editor = new BoxEditor($('layout'), $('canvas-frame'), {
      subjects: () => this.subjects,
      active: () => this.activeKey,
      select: (key) => this.select(key),
      changed: (subject) => this.boxChanged(subject),
      overlays: () => this.controls.overlays(),
      showBoxes: () => this.mode() !== 'none',
    });
    controls.onOverlayChange = () => this.editor.draw();
    this.wire();
  }

  wire() {
    $('subject-files').addEventListener('change', (e) => {
      this.addPictures([...e.target.files]);
      e.target.value = '';
    });
    const drop = $('subject-drop');
    drop.addEventListener('dragover', (e) => {
      e.preventDefault();
      drop.classList.add('over');
    });
    drop.addEventListener('dragleave', () => drop.classList.remove('over'));
    drop.addEventListener('drop', (e) => {
      e.preventDefault();
      drop.classList.remove('over');
      this.addPictures([...e.dataTransfer.files].filter((f) => f.type.startsWith('image/')));
    });
    const presets = $('size-preset');
    presets.append(new Option('Custom', ''));
    SIZE_PRESETS.forEach(([w, h, name]) => presets.append(new Option(`${w}×${h} (${name})`, `${w}x${h}`)));
    presets.addEventListener('change', () => {
      if (presets.value) {
        const [w, h] = presets.value.split('x');
        $('width').value = w;
        $('height').value = h;
        this.sizeChanged();
      }
    });
    ['width', 'height'].forEach((id) => $(id).addEventListener('input', () => this.sizeChanged()));
    $('hires-on').addEventListener('change', () => this.hiresChanged());
    $('hires-scale').addEventListener('input', () => this.hiresChanged());
    $('hires-scheduler').addEventListener('change', () => this.hiresChanged());
    $('seed-random').addEventListener('change', () => {
      $('seed').disabled = $('seed-random').checked;
    });
    this.form.querySelectorAll('input[name="mode"]').forEach((r) => r.addEventListener('change', () => this.modeChanged()));
    let timer = null;
    this.checkPhrasesSoon = () => {
      clearTimeout(timer);
      timer = setTimeout(() => this.checkPhrases(), 300);
    };
    $('prompt').addEventListener('input', this.checkPhrasesSoon);
    $('init-file').addEventListener('change', (e) => {
      const [file] = e.target.files;
      if (file) {
        this.chooseInitImage(file);
      }
    });
    $('mask-file').addEventListener('change', (e) => {
      const [file] = e.target.files;
      if (file) {
        this.chooseMask(file);
      }
    });
    $('init-clear').addEventListener('click', () => this.setInitImage(null, ''));
  }

  /** Uploads the mask; a masked area is repainted from noise unless the strength is lowered. */
  async chooseMask(file) {
    try {
      const id = await this.api.upload(file);
      this.pictures.set(id, URL.createObjectURL(file));
      this.setMask(id, file.name);
      $('strength').value = 1;
    } catch (e) {
      this.setMask(null, '');
      $('init-status').textContent = `Could not upload ${file.name}: ${e.message}`;
    }
  }

  setMask(uploadId, name) {
    this.maskUpload = uploadId;
    if (uploadId === null) {
      $('mask-file').value = '';
    }
    this.maskName = name;
    this.showInitImage();
  }

  /** Uploads the picture to start from. */
  async chooseInitImage(file) {
    $('init-status').textContent = 'Uploading…';
    try {
      const id = await this.api.upload(file);
      this.pictures.set(id, URL.createObjectURL(file));
      this.setInitImage(id, file.name);
    } catch (e) {
      this.setInitImage(null, '');
      $('init-status').textContent = `Could not upload ${file.name}: ${e.message}`;
    }
  }

  setInitImage(uploadId, name) {
    this.initUpload = uploadId;
    this.initName = name;
    $('init-clear').hidden = uploadId === null;
    $('mask-file').disabled = uploadId === null;
    if (uploadId === null) {
      $('init-file').value = '';
      this.setMask(null, '');
    }
    this.showInitImage();
  }

  showInitImage() {
    // the pictures this page uploaded are shown; a reopened result's uploads from elsewhere go by their ids
    [['init-preview', this.initUpload], ['mask-preview', this.maskUpload]].forEach(([id, upload]) => {
      const url = upload === null ? undefined : this.pictures.get(upload);
      $(id).hidden = !url;
      if (url) {
        $(id).src = url;
      } else {
        $(id).removeAttribute('src');
      }
    });
    $('init-status').textContent = this.initUpload === null ? 'None: the generation starts from noise.'
      : `Starting from ${this.initName}, resized to the output size`
        + (this.maskUpload === null ? '.' : `; repainted where ${this.maskName} is white.`);
  }

  /**
   * Fills the fields from the server's defaults (the OpenAPI document) and its schedulers, each described, with the
   * settings each reads shown on the scheduler options field.
   */
  setDefaults(defaults, schedulers, defaultScheduler, descriptions = {}, settings = {}) {
    const select = $('scheduler');
    select.replaceChildren(...schedulers.map((s) => {
      const option = new Option(s, s);
      option.title = descriptions[s] ?? '';
      return option;
    }));
    const showSettings = () => {
      const reads = settings[select.value] ?? [];
      $('scheduler-options').title = reads.length ? `${select.value} reads:\n${reads.join('\n')}`
        : `${select.value} takes no settings`;
    };
    select.addEventListener('change', showSettings);
    $('hires-scheduler').replaceChildren(new Option('The same', ''), ...schedulers.map((s) => new Option(s, s)));
    select.value = defaultScheduler;
    showSettings();
    setValue($('negative'), defaults.negativePrompt);
    setValue($('width'), defaults.width);
    setValue($('height'), defaults.height);
    setValue($('steps'), defaults.steps);
    setValue($('guidance'), defaults.guidance);
    setValue($('scale'), defaults.scale);
    setValue($('count'), defaults.count);
    this.sizeChanged();
  }

  mode() {
    return this.form.querySelector('input[name="mode"]:checked').value;
  }

  modeChanged() {
    $('auto-layout').hidden = this.mode() !== 'auto';
    this.renderSubjects();
    this.editor.draw();
  }

  /** Enables the hires settings with their checkbox and says the size the images will have. */
  hiresChanged() {
    const on = $('hires-on').checked;
    ['hires-scale', 'hires-strength', 'hires-steps', 'hires-upscaler', 'hires-scheduler', 'hires-guidance',
      'hires-prompt', 'hires-negative'].forEach((id) => { $(id).disabled = !on; });
    $('hires-scheduler-options').disabled = !on || $('hires-scheduler').value === '';
    const scale = number($('hires-scale'));
    // as the server sizes it: int(side × scale), rounded down to a multiple of 8
    const side = (id) => Math.floor(Math.floor(number($(id)) * scale) / 8) * 8;
    const width = side('width');
    const height = side('height');
    $('hires-status').textContent = !on ? 'None: the images have the size above.'
      : Number.isFinite(width) && Number.isFinite(height) ? `The images are ${width}×${height}.`
        : 'Give a size above and a scale from 1 to 4.';
  }

  sizeChanged() {
    const w = Number($('width').value);
    const h = Number($('height').value);
    const preset = `${w}x${h}`;
    $('size-preset').value = SIZE_PRESETS.some(([pw, ph]) => `${pw}x${ph}` === preset) ? preset : '';
    this.editor.setSize(w, h);
    this.controls.size = { width: w, height: h };
    this.hiresChanged();
  }

  /** Uploads each picture and adds it as a subject, the last one selected for drawing its box. */
  async addPictures(files) {
    for (const file of files) {
      const subject = { key: nextKey++, name: file.name, phrase: '', box: null, scale: '', dropGrounding: false,
        uploadId: null, status: 'Uploading…' };
      this.subjects.push(subject);
      this.setPicture(subject, URL.createObjectURL(file));
      this.activeKey = subject.key;
      this.renderSubjects();
      try {
        subject.uploadId = await this.api.upload(file);
        this.pictures.set(subject.uploadId, subject.url);
        subject.status = '';
      } catch (e) {
        subject.status = `Upload failed: ${e.message}`;
      }
      this.renderSubjects();
    }
  }

  setPicture(subject, url) {
    subject.url = url;
    subject.image = null;
    if (url) {
      subject.image = new Image();
      subject.image.onload = () => this.editor.draw();
      subject.image.src = url;
    }
  }

  select(key) {
    this.activeKey = key;
    this.form.querySelectorAll('#subjects .select-box').forEach((b) => {
      b.setAttribute('aria-pressed', String(Number(b.dataset.key) === key));
    });
    this.editor.draw();
  }

  boxChanged(subject) {
    const input = this.form.querySelector(`#subjects [data-key="${subject.key}"] .box-input`);
    if (input) {
      input.value = subject.box ? subject.box.join(', ') : '';
    }
  }

  renderSubjects() {
    const list = $('subjects');
    const boxes = this.mode() !== 'none';
    list.replaceChildren(...this.subjects.map((s, i) => this.card(s, i, boxes)));
    this.select(this.activeKey);
  }

  card(s, i, boxes) {
    const path = `subjects[${i}]`;
    const li = listCard('subject', path, s.key);
    li.style.borderLeftColor = COLORS[i % COLORS.length];
    const id = (name) => `subject-${s.key}-${name}`;

    const figure = document.createElement('div');
    figure.className = 'thumb';
    figure.dataset.field = `${path}.uploadId`;
    if (s.url) {
      const img = document.createElement('img');
      img.src = s.url;
      img.alt = `Subject ${i + 1}: ${s.name}`;
      figure.append(img);
    } else {
      figure.textContent = 'Picture not in this page: remove the subject and add the picture again';
    }
    const status = document.createElement('p');
    status.className = 'hint';
    status.setAttribute('role', 'status');
    status.textContent = s.status || s.name;

    const [phrase, phraseInput] = labelled('text', id('phrase'), `Phrase ${i + 1}`, s.phrase, `${path}.phrase`);
    phraseInput.setAttribute('list', 'phrase-suggestions');
    phraseInput.addEventListener('input', () => {
      s.phrase = phraseInput.value;
      this.editor.draw();
      this.checkPhrasesSoon();
    });
    const found = document.createElement('p');
    found.className = 'hint phrase-found';
    found.dataset.key = s.key;
    phrase.append(found);

    const [box, boxInput] = labelled('text', id('box'), 'Box x0, y0, x1, y1', s.box ? s.box.join(', ') : '',
      `${path}.box`);
    boxInput.classList.add('box-input');
    boxInput.disabled = !boxes;
    boxInput.addEventListener('change', () => {
      const v = boxInput.value.split(',').map((t) => Number(t.trim()));
      s.box = v.length === 4 && v.every((n) => Number.isFinite(n)) ? v.map(round4) : null;
      this.editor.draw();
    });

    const [scale, scaleInput] = labelled('number', id('scale'), 'Scale', s.scale, `${path}.scale`);
    scaleInput.step = '0.05';
    scaleInput.min = '0';
    scaleInput.addEventListener('input', () => { s.scale = scaleInput.value; });

    const drop = document.createElement('label');
    drop.className = 'check';
    const dropInput = document.createElement('input');
    dropInput.type = 'checkbox';
    dropInput.checked = s.dropGrounding;
    dropInput.dataset.field = `${path}.dropGrounding`;
    dropInput.addEventListener('change', () => { s.dropGrounding = dropInput.checked; });
    drop.append(dropInput, ' Drop grounding');

    const actions = document.createElement('div');
    actions.className = 'row';
    const draw = button(boxes ? 'Draw box' : 'Select', () => {
      this.select(s.key);
      $('layout').focus();
    }, `Select subject ${i + 1} to draw its box`);
    draw.className = 'select-box';
    draw.dataset.key = s.key;
    const remove = button('Remove', () => {
      this.subjects = this.subjects.filter((x) => x !== s);
      if (this.activeKey === s.key) {
        this.activeKey = this.subjects.at(-1)?.key ?? null;
      }
      this.renderSubjects();
      this.checkPhrasesSoon();
    }, `Remove subject ${i + 1}`);
    actions.append(draw, remove);

    const fields = document.createElement('div');
    fields.className = 'subject-fields';
    fields.append(phrase, box, scale, drop);
    li.append(figure, status, fields, actions);
    return li;
  }

  /**
   * Asks the server which phrases its tokenizer finds in the prompt and which words it suggests; a server without
   * that endpoint gets the prompt's words as suggestions.
   */
  async checkPhrases() {
    const prompt = $('prompt').value;
    const phrases = this.subjects.map((s) => s.phrase).filter((p) => p.trim());
    let suggestions = [...new Set(prompt.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [])];
    let found = new Map();
    if (this.phrasesServed) {
      try {
        const answer = await this.api.json('POST', '/v1/phrases', { prompt, phrases });
        suggestions = answer.suggestions;
        found = new Map(answer.phrases.map((p) => [p.phrase, p.locatable]));
      } catch (e) {
        this.phrasesServed = e.status !== 404 && e.status !== 405;
      }
    }
    $('phrase-suggestions').replaceChildren(...suggestions.map((w) => new Option(w)));
    this.form.querySelectorAll('.phrase-found').forEach((p) => {
      const s = this.subjects.find((x) => x.key === Number(p.dataset.key));
      const locatable = s && found.get(s.phrase);
      p.textContent = locatable === false ? `“${s.phrase}” is not found in the prompt` : '';
      p.classList.toggle('warning', locatable === false);
    });
  }

  /** The request body. */
  request() {
    const mode = this.mode();
    const body = {
      prompt: $('prompt').value,
      negativePrompt: $('negative').value,
      width: number($('width')),
      height: number($('height')),
      steps: number($('steps')),
      guidance: number($('guidance')),
      guidanceRescale: number($('guidance-rescale')) > 0 ? number($('guidance-rescale')) : undefined,
      scale: number($('scale')),
      count: number($('count')),
      scheduler: $('scheduler').value || undefined,
      seed: $('seed-random').checked ? undefined : number($('seed')),
      subjects: this.subjects.map((s) => {
        const subject = { uploadId: s.uploadId ?? undefined };
        if (s.phrase.trim()) {
          subject.phrase = s.phrase.trim();
        }
        if (mode !== 'none' && s.box) {
          subject.box = s.box;
        }
        if (s.scale !== '') {
          subject.scale = Number(s.scale);
        }
        if (s.dropGrounding) {
          subject.dropGrounding = true;
        }
        return subject;
      }),
      controls: this.controls.request(),
    };
    const schedulerOptions = parseSettings($('scheduler-options').value);
    if (Object.keys(schedulerOptions).length) {
      body.schedulerOptions = schedulerOptions;
    }
    if (mode === 'auto') {
      body.autoLayout = { threshold: number($('auto-threshold')), startStep: number($('auto-start')) };
    }
    if (this.initUpload !== null) {
      body.initImage = { uploadId: this.initUpload, strength: number($('strength')) };
      if (this.maskUpload !== null) {
        body.initImage.mask = { uploadId: this.maskUpload };
      }
    }
    if ($('variation-seed').value !== '') {
      body.variation = { seed: number($('variation-seed')), strength: number($('variation-strength')) };
    }
    if (number($('seed-resize-width')) > 0 && number($('seed-resize-height')) > 0) {
      body.seedResizeFrom = { width: number($('seed-resize-width')), height: number($('seed-resize-height')) };
    }
    if (number($('pag-scale')) > 0) {
      body.perturbedAttention = { scale: number($('pag-scale')),
        adaptiveScale: number($('pag-adaptive-scale')) || 0,
        layers: $('pag-layers').value.split(',').map((l) => l.trim()).filter((l) => l !== '') };
    }
    if ($('hires-on').checked) {
      body.hires = { scale: number($('hires-scale')), strength: number($('hires-strength')),
        steps: number($('hires-steps')), upscaler: $('hires-upscaler').value };
      if ($('hires-scheduler').value !== '') {
        body.hires.scheduler = $('hires-scheduler').value;
        const hiresOptions = parseSettings($('hires-scheduler-options').value);
        if (Object.keys(hiresOptions).length) {
          body.hires.schedulerOptions = hiresOptions;
        }
      }
      if (number($('hires-guidance')) > 0) {
        body.hires.guidance = number($('hires-guidance'));
      }
      if ($('hires-prompt').value.trim() !== '') {
        body.hires.prompt = $('hires-prompt').value;
      }
      if ($('hires-negative').value.trim() !== '') {
        body.hires.negativePrompt = $('hires-negative').value;
      }
    }
    const chosen = this.loras.request();
    if (chosen.length) {
      body.loras = chosen;
    }
    return body;
  }

  /** Loads a result's parameters (the request it ran, pictures by uploadId) into the form, its seed locked. */
  load(p) {
    setValue($('prompt'), p.prompt);
    setValue($('negative'), p.negativePrompt);
    setValue($('width'), p.width);
    setValue($('height'), p.height);
    setValue($('steps'), p.steps);
    setValue($('guidance'), p.guidance);
    setValue($('guidance-rescale'), p.guidanceRescale ?? 0);
    setValue($('scale'), p.scale);
    setValue($('count'), p.count);
    setValue($('seed'), p.seed);
    $('seed-random').checked = p.seed === undefined;
    $('seed').disabled = p.seed === undefined;
    if (p.scheduler) {
      $('scheduler').value = p.scheduler;
      $('scheduler').dispatchEvent(new Event('change'));
    }
    setValue($('scheduler-options'), formatSettings(p.schedulerOptions));
    const subjects = p.subjects ?? [];
    const mode = p.autoLayout ? 'auto' : subjects.length && !subjects.some((s) => s.box) ? 'none' : 'boxes';
    this.form.querySelector(`input[name="mode"][value="${mode}"]`).checked = true;
    if (p.autoLayout) {
      setValue($('auto-threshold'), p.autoLayout.threshold);
      setValue($('auto-start'), p.autoLayout.startStep);
    }
    this.subjects = subjects.map((s, i) => {
      const subject = { key: nextKey++, name: s.uploadId ? `upload ${s.uploadId}` : `subject ${i + 1}`,
        phrase: s.phrase ?? '', box: s.box ?? null, scale: s.scale ?? '', dropGrounding: !!s.dropGrounding,
        uploadId: s.uploadId ?? null, status: '' };
      this.setPicture(subject, s.uploadId ? this.pictures.get(s.uploadId) : null);
      return subject;
    });
    this.activeKey = this.subjects[0]?.key ?? null;
    this.setInitImage(p.initImage?.uploadId ?? null, p.initImage ? `upload ${p.initImage.uploadId}` : '');
    if (p.initImage) {
      setValue($('strength'), p.initImage.strength);
      const mask = p.initImage.mask?.uploadId ?? null;
      this.setMask(mask, mask === null ? '' : `upload ${mask}`);
    }
    setValue($('pag-scale'), p.perturbedAttention?.scale ?? 0);
    setValue($('pag-adaptive-scale'), p.perturbedAttention?.adaptiveScale ?? 0);
    setValue($('pag-layers'), (p.perturbedAttention?.layers ?? ['mid']).join(', '));
    setValue($('variation-seed'), p.variation?.seed);
    setValue($('seed-resize-width'), p.seedResizeFrom?.width);
    setValue($('seed-resize-height'), p.seedResizeFrom?.height);
    if (p.variation) {
      setValue($('variation-strength'), p.variation.strength);
    }
    $('hires-on').checked = !!p.hires;
    if (p.hires) {
      setValue($('hires-scale'), p.hires.width / p.width);
      setValue($('hires-strength'), p.hires.strength);
      setValue($('hires-steps'), p.hires.steps);
      $('hires-upscaler').value = p.hires.upscaler;
      $('hires-scheduler').value = p.hires.scheduler ?? '';
      setValue($('hires-scheduler-options'), formatSettings(p.hires.schedulerOptions));
      setValue($('hires-guidance'), p.hires.guidance ?? 0);
      setValue($('hires-prompt'), p.hires.prompt);
      setValue($('hires-negative'), p.hires.negativePrompt);
    }
    this.loras.load(p.loras ?? []);
    this.controls.load(p.controls ?? []);
    this.sizeChanged();
    this.modeChanged();
    this.checkPhrases();
  }

  /** The seed a random run drew, shown so that it can be locked. */
  showSeed(seed) {
    if ($('seed-random').checked) {
      $('seed').value = seed;
    }
  }
}
