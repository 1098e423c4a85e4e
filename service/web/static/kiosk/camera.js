// Camera scanning for devices without a handheld scanner: the browser's BarcodeDetector where
// it exists, else the vendored jsQR (loaded only when the camera is first used, so the kiosk's
// first load stays small). Browsers allow the camera only on https or on localhost.

const JSQR_URL = "/static/vendor/jsqr/jsQR.js";
const FRAME_MS = 120;
const SAME_CODE_MS = 2500;

export function cameraAvailable() {
  return Boolean(navigator.mediaDevices?.getUserMedia) && window.isSecureContext;
}

function loadJsQR() {
  if (window.jsQR) return Promise.resolve(window.jsQR);
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = JSQR_URL;
    script.onload = () => resolve(window.jsQR);
    script.onerror = () => reject(new Error("jsQR did not load"));
    document.head.append(script);
  });
}

async function makeDecoder(canvas) {
  if ("BarcodeDetector" in window) {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (formats.includes("qr_code")) {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
    }
  }
  const jsQR = await loadJsQR();
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    const { videoWidth: width, videoHeight: height } = video;
    if (!width || !height) return null;
    canvas.width = width;
    canvas.height = height;
    context.drawImage(video, 0, 0, width, height);
    const image = context.getImageData(0, 0, width, height);
    return jsQR(image.data, width, height, { inversionAttempts: "dontInvert" })?.data ?? null;
  };
}

/** Start scanning into video; onCode(text) for each new code. Resolves to a stop function. */
export async function startCamera(video, onCode) {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: "environment" },
    audio: false,
  });
  video.srcObject = stream;
  await video.play();
  const decode = await makeDecoder(document.createElement("canvas"));
  let running = true;
  let last = { code: null, at: 0 };
  (async function loop() {
    while (running) {
      try {
        const code = await decode(video);
        const now = performance.now();
        if (code && (code !== last.code || now - last.at > SAME_CODE_MS)) {
          last = { code, at: now };
          onCode(code);
        }
      } catch {
        // A frame that could not be read; the next one may.
      }
      await new Promise((resolve) => setTimeout(resolve, FRAME_MS));
    }
  })();
  return () => {
    running = false;
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
}
