// A short sound for each outcome, made with WebAudio (no files to load): staff at a busy door
// hear the answer without looking. Can be turned off; the choice is kept on this device.

const SETTING = "smk.kiosk.sound";
// [frequency in Hz (0 = silence), seconds] per outcome.
const PATTERNS = {
  ok: [
    [880, 0.09],
    [1320, 0.16],
  ],
  repeat: [
    [660, 0.12],
    [0, 0.07],
    [660, 0.12],
  ],
  bad: [[196, 0.45]],
  pending: [[740, 0.14]],
};

let context = null;

export function soundOn() {
  return localStorage.getItem(SETTING) !== "off";
}

export function setSound(on) {
  localStorage.setItem(SETTING, on ? "on" : "off");
}

/** Play the outcome's pattern; returns whether a sound was played. */
export function beep(outcome) {
  if (!soundOn() || !(outcome in PATTERNS)) return false;
  try {
    context ??= new AudioContext();
    if (context.state === "suspended") context.resume();
    let at = context.currentTime + 0.01;
    for (const [frequency, seconds] of PATTERNS[outcome]) {
      if (frequency) {
        const oscillator = context.createOscillator();
        const gain = context.createGain();
        oscillator.type = outcome === "bad" ? "square" : "sine";
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, at);
        gain.gain.exponentialRampToValueAtTime(0.25, at + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + seconds);
        oscillator.connect(gain).connect(context.destination);
        oscillator.start(at);
        oscillator.stop(at + seconds + 0.02);
      }
      at += seconds;
    }
    return true;
  } catch {
    return false; // no audio device: the colours still say it
  }
}
