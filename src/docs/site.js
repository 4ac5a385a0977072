// Search over the embedded index, and pan/zoom for the DAG drawings.
(function () {
  const box = document.getElementById('search');
  const results = document.getElementById('results');
  const index = window.DERIVED_INDEX || [];
  function show(query) {
    if (!results) return;
    const q = query.trim().toLowerCase();
    results.innerHTML = '';
    if (!q) return;
    let shown = 0;
    for (const entry of index) {
      const columns = entry.columns.filter((c) => c.toLowerCase().includes(q));
      if (!entry.name.includes(q) && !entry.description.toLowerCase().includes(q) && !columns.length) continue;
      const li = document.createElement('li');
      const a = document.createElement('a');
      a.href = 'tables/' + entry.name + '.html';
      a.textContent = entry.name;
      li.appendChild(a);
      li.append(' ' + entry.kind + (columns.length ? ' · columns: ' + columns.join(', ') : ''));
      results.appendChild(li);
      if (++shown === 50) break;
    }
  }
  if (box) {
    box.value = new URLSearchParams(location.search).get('q') || '';
    box.addEventListener('input', () => show(box.value));
    show(box.value);
  }
  for (const svg of document.querySelectorAll('svg.graph')) {
    let [x, y, w, h] = svg.getAttribute('viewBox').split(' ').map(Number);
    const set = () => svg.setAttribute('viewBox', [x, y, w, h].join(' '));
    let drag = null;
    svg.addEventListener('mousedown', (e) => { drag = { cx: e.clientX, cy: e.clientY, x, y }; });
    window.addEventListener('mouseup', () => { drag = null; });
    svg.addEventListener('mousemove', (e) => {
      if (!drag) return;
      const scale = w / svg.clientWidth;
      x = drag.x - (e.clientX - drag.cx) * scale;
      y = drag.y - (e.clientY - drag.cy) * scale;
      set();
    });
    svg.addEventListener('wheel', (e) => {
      e.preventDefault();
      const factor = e.deltaY > 0 ? 1.2 : 1 / 1.2;
      const r = svg.getBoundingClientRect();
      const px = x + ((e.clientX - r.left) / r.width) * w;
      const py = y + ((e.clientY - r.top) / r.height) * h;
      w *= factor; h *= factor;
      x = px - ((e.clientX - r.left) / r.width) * w;
      y = py - ((e.clientY - r.top) / r.height) * h;
      set();
    }, { passive: false });
  }
})();
