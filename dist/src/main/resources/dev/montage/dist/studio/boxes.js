// The layout canvas: the output picture's aspect ratio, one box per subject, drawn, moved and resized with the
// pointer or the keyboard, and the previews of controls laid over it.
//
// A box is what the CLI's box=x0,y0,x1,y1 means: normalised corners of the output image, x to the right, y down.
// The page sends exactly (pixel corner / canvas size), rounded to 4 decimals and clamped to 0..1.

const HANDLE = 7;
const MIN_PIXELS = 3;
const KEY_STEP = 0.01;
export const COLORS = ['#e4572e', '#17bebb', '#ffc914', '#76b041', '#a259ff', '#ff7eb6', '#2e86de', '#8d6e63'];

/** A coordinate as the page sends it: 4 decimals, in 0..1. */
export function round4(value) {
  return Math.round(Math.min(1, Math.max(0, value)) * 1e4) / 1e4;
}

/** The normalised box of two pixel corners of a canvas of width × height pixels. */
export function boxOf(ax, ay, bx, by, width, height) {
  return [round4(Math.min(ax, bx) / width), round4(Math.min(ay, by) / height),
    round4(Math.max(ax, bx) / width), round4(Math.max(ay, by) / height)];
}

export class BoxEditor {
  /**
   * @param canvas   the layout canvas
   * @param frame    its container, whose width the canvas fills
   * @param model    {subjects(): [{key, box, phrase, image}], active(): key, select(key), changed(subject),
   *                 overlays(): [HTMLImageElement], showBoxes(): boolean}
   */
  constructor(canvas, frame, model) {
    this.canvas = canvas;
    this.frame = frame;
    this.model = model;
    this.aspect = 1;
    this.drag = null;
    canvas.addEventListener('pointerdown', (e) => this.down(e));
    canvas.addEventListener('pointermove', (e) => this.move(e));
    canvas.addEventListener('pointerup', (e) => this.up(e));
    canvas.addEventListener('pointercancel', () => { this.drag = null; this.draw(); });
    canvas.addEventListener('keydown', (e) => this.key(e));
    new ResizeObserver(() => this.fit()).observe(frame);
  }

  /** Sets the output size the canvas stands for. */
  setSize(width, height) {
    if (width > 0 && height > 0) {
      this.aspect = width / height;
      this.fit();
    }
  }

  /** Whole CSS pixels, so that a pixel corner divided by the canvas size is exact. */
  fit() {
    const maxHeight = Math.max(160, Math.round(window.innerHeight * 0.55));
    let width = Math.floor(this.frame.clientWidth);
    let height = Math.round(width / this.aspect);
    if (height > maxHeight) {
      height = maxHeight;
      width = Math.round(height * this.aspect);
    }
    if (width <= 0) {
      return;
    }
    this.canvas.width = width;
    this.canvas.height = height;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    this.draw();
  }

  point(e) {
    const rect = this.canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  /** The box of a subject in canvas pixels. */
  pixels(box) {
    const { width, height } = this.canvas;
    return { x0: box[0] * width, y0: box[1] * height, x1: box[2] * width, y1: box[3] * height };
  }

  hit(p) {
    if (!this.model.showBoxes()) {
      return null;
    }
    const subjects = this.model.subjects();
    const active = subjects.find((s) => s.key === this.model.active() && s.box);
    if (active) {
      const r = this.pixels(active.box);
      for (const [cx, cy, ax, ay] of [[r.x0, r.y0, r.x1, r.y1], [r.x1, r.y0, r.x0, r.y1],
        [r.x0, r.y1, r.x1, r.y0], [r.x1, r.y1, r.x0, r.y0]]) {
        if (Math.abs(p.x - cx) <= HANDLE && Math.abs(p.y - cy) <= HANDLE) {
          return { subject: active, mode: 'resize', anchor: { x: ax, y: ay } };
        }
      }
    }
    for (const s of [...subjects].reverse()) {
      if (s.box) {
        const r = this.pixels(s.box);
        if (p.x >= r.x0 && p.x <= r.x1 && p.y >= r.y0 && p.y <= r.y1) {
          return { subject: s, mode: 'move', origin: r };
        }
      }
    }
    return null;
  }

  down(e) {
    if (e.button !== 0) {
      return;
    }
    const p = this.point(e);
    const hit = this.hit(p);
    if (hit) {
      this.model.select(hit.subject.key);
      this.drag = { ...hit, start: p, current: p };
    } else {
      const subject = this.model.subjects().find((s) => s.key === this.model.active());
      if (!subject || !this.model.showBoxes()) {
        return;
      }
      this.drag = { subject, mode: 'draw', start: p, current: p };
    }
    this.canvas.setPointerCapture(e.pointerId);
    this.canvas.focus();
    e.preventDefault();
  }

  move(e) {
    if (this.drag) {
      this.drag.current = this.point(e);
      this.draw();
    } else {
      const hit = this.hit(this.point(e));
      this.canvas.style.cursor = !hit ? 'crosshair' : hit.mode === 'resize' ? 'nwse-resize' : 'move';
    }
  }

  up(e) {
    if (!this.drag) {
      return;
    }
    this.drag.current = this.point(e);
    const box = this.dragged(this.drag);
    const { subject } = this.drag;
    this.drag = null;
    if (box) {
      subject.box = box;
      this.model.changed(subject);
    }
    this.draw();
  }

  /** The box a drag makes, or null for a click or a box too small to mean anything. */
  dragged(drag) {
    const { width, height } = this.canvas;
    const clamp = (v, low, high) => Math.min(high, Math.max(low, v));
    const { start, current } = drag;
    if (drag.mode === 'move') {
      const r = drag.origin;
      const dx = clamp(current.x - start.x, -r.x0, width - r.x1);
      const dy = clamp(current.y - start.y, -r.y0, height - r.y1);
      if (dx === 0 && dy === 0) {
        return null;
      }
      return boxOf(r.x0 + dx, r.y0 + dy, r.x1 + dx, r.y1 + dy, width, height);
    }
    const from = drag.mode === 'resize' ? drag.anchor : start;
    const x = clamp(current.x, 0, width);
    const y = clamp(current.y, 0, height);
    if (Math.abs(x - from.x) < MIN_PIXELS || Math.abs(y - from.y) < MIN_PIXELS) {
      return null;
    }
    return boxOf(from.x, from.y, x, y, width, height);
  }

  key(e) {
    const dirs = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    const subject = this.model.subjects().find((s) => s.key === this.model.active());
    if (!(e.key in dirs) || !subject || !this.model.showBoxes()) {
      return;
    }
    e.preventDefault();
    const [dx, dy] = dirs[e.key].map((d) => d * KEY_STEP);
    const b = subject.box ?? [0.25, 0.25, 0.75, 0.75];
    let next;
    if (e.shiftKey) {
      next = [b[0], b[1], Math.max(b[0] + KEY_STEP, b[2] + dx), Math.max(b[1] + KEY_STEP, b[3] + dy)];
    } else {
      const mx = Math.min(Math.max(dx, -b[0]), 1 - b[2]);
      const my = Math.min(Math.max(dy, -b[1]), 1 - b[3]);
      next = [b[0] + mx, b[1] + my, b[2] + mx, b[3] + my];
    }
    subject.box = next.map(round4);
    this.model.changed(subject);
    this.draw();
  }

  draw() {
    const ctx = this.canvas.getContext('2d');
    const { width, height } = this.canvas;
    ctx.clearRect(0, 0, width, height);
    ctx.fillStyle = '#2b2d31';
    ctx.fillRect(0, 0, width, height);
    ctx.strokeStyle = 'rgba(255,255,255,0.12)';
    ctx.lineWidth = 1;
    for (const f of [1 / 3, 2 / 3]) {
      ctx.beginPath();
      ctx.moveTo(Math.round(width * f) + 0.5, 0);
      ctx.lineTo(Math.round(width * f) + 0.5, height);
      ctx.moveTo(0, Math.round(height * f) + 0.5);
      ctx.lineTo(width, Math.round(height * f) + 0.5);
      ctx.stroke();
    }
    ctx.globalAlpha = 0.55;
    this.model.overlays().forEach((image) => ctx.drawImage(image, 0, 0, width, height));
    ctx.globalAlpha = 1;
    if (!this.model.showBoxes()) {
      return;
    }
    this.model.subjects().forEach((s, i) => {
      const dragging = this.drag && this.drag.subject === s;
      const box = dragging ? this.dragged(this.drag) ?? s.box : s.box;
      if (box) {
        this.drawBox(ctx, s, i, box, s.key === this.model.active());
      }
    });
  }

  drawBox(ctx, subject, index, box, active) {
    const r = this.pixels(box);
    const color = COLORS[index % COLORS.length];
    const w = r.x1 - r.x0;
    const h = r.y1 - r.y0;
    if (subject.image?.complete && subject.image.naturalWidth > 0) {
      const scale = Math.min(w / subject.image.naturalWidth, h / subject.image.naturalHeight);
      const iw = subject.image.naturalWidth * scale;
      const ih = subject.image.naturalHeight * scale;
      ctx.globalAlpha = 0.45;
      ctx.drawImage(subject.image, r.x0 + (w - iw) / 2, r.y0 + (h - ih) / 2, iw, ih);
      ctx.globalAlpha = 1;
    }
    ctx.fillStyle = `${color}33`;
    ctx.fillRect(r.x0, r.y0, w, h);
    ctx.strokeStyle = color;
    ctx.lineWidth = active ? 3 : 2;
    ctx.strokeRect(r.x0, r.y0, w, h);
    const label = `${index + 1}${subject.phrase ? ` ${subject.phrase}` : ''}`;
    ctx.font = '600 13px system-ui, sans-serif';
    const tw = ctx.measureText(label).width + 8;
    ctx.fillStyle = color;
    ctx.fillRect(r.x0, r.y0, tw, 18);
    ctx.fillStyle = '#111';
    ctx.fillText(label, r.x0 + 4, r.y0 + 13);
    if (active) {
      ctx.fillStyle = '#fff';
      for (const [x, y] of [[r.x0, r.y0], [r.x1, r.y0], [r.x0, r.y1], [r.x1, r.y1]]) {
        ctx.fillRect(x - 4, y - 4, 8, 8);
        ctx.strokeRect(x - 4, y - 4, 8, 8);
      }
    }
  }
}
