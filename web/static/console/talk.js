// "Talk to this agent": the microphone over WebRTC to the appliance's voice engine, the call's live panel
// (transcript over SSE, then the result) beside it. No inline script: the CSP forbids it.
const root = document.getElementById("talk");
const startButton = document.getElementById("talk-start");
const stopButton = document.getElementById("talk-stop");
const state = document.getElementById("talk-state");
const audio = document.getElementById("talk-audio");
const csrf = JSON.parse(document.body.getAttribute("hx-headers"))["x-csrftoken"];
let peer = null;
let microphone = null;
let callId = null;

function show(text) {
  state.textContent = text;
}

function finish(text) {
  if (microphone) microphone.getTracks().forEach((track) => track.stop());
  if (peer) peer.close();
  peer = null;
  microphone = null;
  startButton.disabled = false;
  stopButton.disabled = true;
  show(text);
}

// The appliance does not trickle ICE: the offer goes once it holds every candidate.
function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") resolve();
    });
    setTimeout(resolve, 3000); // host candidates come at once; never hang on a slow interface
  });
}

async function post(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "x-csrftoken": csrf },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `the appliance answered ${response.status}`);
  return data;
}

startButton.addEventListener("click", async () => {
  if (!window.isSecureContext || !navigator.mediaDevices) {
    show("Browsers allow the microphone only on https:// or localhost: open the console over HTTPS (APPLIANCE_HTTPS=true).");
    return;
  }
  startButton.disabled = true;
  try {
    show("Asking for the microphone…");
    microphone = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true },
    });
    peer = new RTCPeerConnection({ iceServers: [] }); // the appliance is on the LAN: no STUN, nothing leaves it
    microphone.getTracks().forEach((track) => peer.addTrack(track, microphone));
    peer.addEventListener("track", (event) => {
      audio.srcObject = event.streams[0] || new MediaStream([event.track]);
    });
    peer.addEventListener("connectionstatechange", () => {
      if (!peer) return;
      if (peer.connectionState === "connected") show("Connected: talk to the agent.");
      if (["failed", "closed"].includes(peer.connectionState)) finish("The call ended.");
    });
    show("Connecting…");
    await peer.setLocalDescription(await peer.createOffer());
    await gathered(peer);
    const answer = await post(`/agents/${root.dataset.agent}/talk`, { type: "offer", sdp: peer.localDescription.sdp });
    callId = answer.call_id;
    await peer.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    stopButton.disabled = false;
    htmx.ajax("GET", `/calls/${callId}`, { target: "#talk-call", swap: "innerHTML" });
  } catch (error) {
    finish(`Could not start: ${error.message}`);
  }
});

stopButton.addEventListener("click", async () => {
  stopButton.disabled = true;
  try {
    if (callId) await post(`/calls/${callId}/hangup`);
    finish("You hung up. The result appears beside once it is extracted.");
  } catch (error) {
    finish(`Hanging up failed: ${error.message}`);
  }
});

// The agent ended the call (its goal reached, or the time limit): the call panel's live stream says so.
document.body.addEventListener("htmx:sseMessage", (event) => {
  if (peer && event.detail && event.detail.type === "status" && !/In progress/.test(event.detail.data)) {
    finish("The call ended.");
  }
});
