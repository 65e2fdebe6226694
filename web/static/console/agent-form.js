// The voice sample follows the voice picked in the agent form (no inline scripts: the CSP forbids them).
document.addEventListener("change", (event) => {
  if (event.target.id !== "voice") return;
  const sample = document.getElementById("voice-sample");
  sample.src = `/voices/${encodeURIComponent(event.target.value || sample.dataset.default)}/sample.wav`;
  sample.play().catch(() => {});
});
