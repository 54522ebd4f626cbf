#!/usr/bin/env bash
# make_english_corpus.sh OUT_DIR: the throughput benchmark's English corpus (`--corpus
# english`): 12 stereo contact-center calls, about 6 minutes and 900 words, written into
# OUT_DIR with a manifest.csv and an expected.json in the format of fixtures/expected.json.
#
# Why: the fixture calls hold 198 English words, so one word is half a point of word error
# rate and the systems' differences there are within noise. This corpus is four times larger,
# its sentences are not the fixtures' (nothing was tuned on them), and it mixes in real
# speech: the five LibriVox recordings of pocketsphinx-testdata (a human reader, 16 kHz) are
# customer turns of calls e05 and e10, put through the same telephone chain.
#
# Calls are built exactly like the fixtures (fixtures/call_builder.sh: espeak-ng voices that
# Whisper base reads, presence boost, 300-3400 Hz band, 8 kHz G.711 mu-law), deterministically.
# Numbers are written as words in the scripts, so that no system loses or gains by how it
# formats digits.
set -euo pipefail

OUT_DIR="${1:?usage: make_english_corpus.sh OUT_DIR}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
LIBRIVOX=/usr/share/pocketsphinx/test/data/librivox
for tool in espeak-ng sox soxi awk; do
    command -v "$tool" >/dev/null || { echo "make_english_corpus.sh: '$tool' is required" >&2; exit 1; }
done
[[ -d "$LIBRIVOX" ]] || { echo "make_english_corpus.sh: $LIBRIVOX missing (apt install pocketsphinx-testdata)" >&2; exit 1; }

mkdir -p "$OUT_DIR"
OUT_DIR="$(cd "$OUT_DIR" && pwd)"
WORK_DIR="$(mktemp -d)"
trap 'rm -rf "$WORK_DIR"' EXIT
source "$ROOT/fixtures/call_builder.sh"
cd "$OUT_DIR"
rm -f e[0-9][0-9]_*.wav manifest.csv expected.json

TAB=$'\t'
G="$TURN_GAP_S"
# A LibriVox sentence as a script line's TTS_TEXT: its recording, and its words as TEXT.
librivox() { printf '%s\t%s' "$2" "@$LIBRIVOX/sense_and_sensibility_01_austen_64kb-$1.wav"; }

# add CALL_ID AGENT_ID AGENT_VOICE CUSTOMER_VOICE AGENT_SIDE NOISE < script
add() {
    local call_id="$1" agent_id="$2" agent_voice="$3" customer_voice="$4" side="$5" noise="$6"
    build_call "$call_id" "$agent_voice" "$customer_voice" "$noise"
    interleave "$call_id" "$side" "$WORK_DIR/$call_id.master.wav"
    encode "$WORK_DIR/$call_id.master.wav" mulaw "${call_id}_mulaw.wav"
    add_call "$call_id" "$agent_id" "${call_id}_mulaw.wav" 2024-04-02T09:00:00+02:00 "$side" en corpus "$call_id"
}

add e01 A101 "$AGENT_A101" "$CUSTOMER_EN_GB" left yes <<SCRIPT
A${TAB}0${TAB}Good morning, thank you for calling North Star Energy, my name is Maria.
C${TAB}${G}${TAB}Hello, I think my last bill is far too high.
A${TAB}0.6${TAB}I am sorry to hear that. Could you give me your customer number, please?
C${TAB}0.8${TAB}Yes, it is seven four two nine one.
A${TAB}1.2${TAB}Thank you. I can see that the meter was estimated last month.
A${TAB}0.5${TAB}If you read the meter today, I will correct the bill for you.
C${TAB}${G}${TAB}That sounds good, I will do that tonight.
A${TAB}0.4${TAB}Wonderful. Is there anything else I can help you with?
C${TAB}${G}${TAB}No, that was all, thank you.
A${TAB}${G}${TAB}Thank you for calling, have a lovely evening.
SCRIPT

add e02 A102 "$AGENT_A102" "$CUSTOMER_EN_M7" right no <<SCRIPT
A${TAB}0${TAB}Good afternoon, you are speaking with Kate from City Mobile. How may I help you?
C${TAB}${G}${TAB}My phone stopped working after the update yesterday.
A${TAB}0.7${TAB}I understand. Have you tried switching it off and on again?
C${TAB}${G}${TAB}Yes, twice, and it still shows a black screen.
A${TAB}1.0${TAB}In that case I will send you a replacement phone by courier.
A${TAB}0.5${TAB}It should arrive within three working days.
C${TAB}${G}${TAB}Great, thank you so much for your help.
A${TAB}${G}${TAB}You are welcome. Goodbye.
SCRIPT

add e03 A101 "$AGENT_A101" "$CUSTOMER_EN_KLATT" left yes <<SCRIPT
A${TAB}0${TAB}Union Bank, this is Maria speaking. This call is recorded for quality purposes.
C${TAB}${G}${TAB}Good morning, I would like to open a savings account.
A${TAB}0.6${TAB}Of course. Do you already have a current account with us?
C${TAB}${G}${TAB}Yes, I have had one for many years.
A${TAB}0.8${TAB}Then I can open the savings account right now over the phone.
A${TAB}0.5${TAB}The interest rate is two percent per year.
C${TAB}${G}${TAB}Please go ahead and open it.
A${TAB}1.5${TAB}Done. You will receive a confirmation letter next week.
C${TAB}${G}${TAB}Thank you very much.
A${TAB}${G}${TAB}Thank you for calling Union Bank, goodbye.
SCRIPT

add e04 A102 "$AGENT_A102" "$CUSTOMER_EN_GB" right yes <<SCRIPT
A${TAB}0${TAB}Hello, welcome to Green Valley Insurance, my name is Kate.
C${TAB}${G}${TAB}Hi, I had a small accident with my car this morning.
A${TAB}0.5${TAB}I am sorry to hear that. Is everybody all right?
C${TAB}${G}${TAB}Yes, nobody was hurt, but the door is damaged.
A${TAB}0.9${TAB}I will open a claim for you. Where did the accident happen?
C${TAB}0.6${TAB}In the parking lot of the shopping center on Main Street.
A${TAB}1.1${TAB}Thank you. A mechanic will call you tomorrow to look at the car.
C${TAB}${G}${TAB}Perfect, I will wait for the call.
A${TAB}${G}${TAB}Take care, and have a good day.
SCRIPT

add e05 A101 "$AGENT_A101" "$CUSTOMER_EN_M7" left no <<SCRIPT
A${TAB}0${TAB}Good evening, thank you for calling the city library, this is Maria.
C${TAB}${G}${TAB}Hello, I am calling about an old book I would like to borrow.
A${TAB}0.6${TAB}Of course. Which book are you looking for?
C${TAB}${G}${TAB}$(librivox 0870 "and mister john dashwood had then leisure to consider how much there might be prudently in his power to do for them")
A${TAB}0.8${TAB}That sounds like Sense and Sensibility. We have two copies.
C${TAB}${G}${TAB}$(librivox 0880 "he was not an ill disposed young man")
A${TAB}0.7${TAB}I will keep one copy for you until Friday.
C${TAB}${G}${TAB}Thank you, that is very kind.
A${TAB}${G}${TAB}You are welcome, goodbye.
SCRIPT

add e06 A102 "$AGENT_A102" "$CUSTOMER_EN_KLATT" right yes <<SCRIPT
A${TAB}0${TAB}Good morning, Fast Parcel customer service, Kate speaking.
C${TAB}${G}${TAB}My parcel was supposed to arrive on Monday, but it never came.
A${TAB}0.8${TAB}I apologize for the delay. Can you tell me the tracking number?
C${TAB}${G}${TAB}It is five five eight three two.
A${TAB}1.3${TAB}I see the parcel is waiting at the local depot.
A${TAB}0.5${TAB}The driver will bring it to your door tomorrow morning.
C${TAB}${G}${TAB}Finally, thank you.
A${TAB}${G}${TAB}Thank you for your patience, goodbye.
SCRIPT

add e07 A101 "$AGENT_A101" "$CUSTOMER_EN_GB" left no <<SCRIPT
A${TAB}0${TAB}Hello, Sunrise Travel, my name is Maria, how can I help?
C${TAB}${G}${TAB}I need to change the date of my flight to London.
A${TAB}0.7${TAB}No problem. What is your booking reference?
C${TAB}${G}${TAB}It is alpha bravo seven nine.
A${TAB}1.0${TAB}Thank you. Which date would you like instead?
C${TAB}${G}${TAB}The twelfth of June, in the morning if possible.
A${TAB}1.4${TAB}There is a seat on the morning flight. The change costs forty euros.
C${TAB}${G}${TAB}That is fine, please book it.
A${TAB}0.9${TAB}Your new ticket is on its way by email. Have a nice trip.
SCRIPT

add e08 A102 "$AGENT_A102" "$CUSTOMER_EN_M7" right yes <<SCRIPT
A${TAB}0${TAB}Good afternoon, Union Bank, this is Kate. This call is recorded.
C${TAB}${G}${TAB}Hello, somebody used my card in a shop I have never visited.
A${TAB}0.6${TAB}I am sorry. I will block the card immediately.
A${TAB}0.8${TAB}Can you confirm your date of birth, please?
C${TAB}${G}${TAB}The third of March, nineteen eighty.
A${TAB}1.2${TAB}Thank you. The card is blocked and a new one is on its way.
A${TAB}0.5${TAB}We will refund the payment within five days.
C${TAB}${G}${TAB}Thank you, that is a relief.
A${TAB}${G}${TAB}You are welcome. Thank you for calling, goodbye.
SCRIPT

add e09 A101 "$AGENT_A101" "$CUSTOMER_EN_KLATT" left no <<SCRIPT
A${TAB}0${TAB}Welcome to Home Internet support, my name is Maria.
C${TAB}${G}${TAB}My internet connection keeps dropping every evening.
A${TAB}0.8${TAB}Let me run a test on your line. Please stay on the phone.
A${TAB}2.0${TAB}I can see a fault near your house. A technician will fix it on Thursday.
C${TAB}${G}${TAB}Will I have to be at home?
A${TAB}0.6${TAB}No, the work is done outside. You do not need to be there.
C${TAB}${G}${TAB}Excellent, thanks a lot.
A${TAB}${G}${TAB}Thank you for calling, goodbye.
SCRIPT

add e10 A102 "$AGENT_A102" "$CUSTOMER_EN_GB" right yes <<SCRIPT
A${TAB}0${TAB}Good morning, Riverside Books, Kate speaking.
C${TAB}${G}${TAB}$(librivox 0890 "unless to be rather cold hearted and rather selfish is to be ill disposed")
A${TAB}0.9${TAB}That is a famous line. Are you looking for the novel?
C${TAB}${G}${TAB}$(librivox 0920 "had he married a more a amiable woman he might have been made still more respectable than he was")
A${TAB}0.8${TAB}We have the novel in paperback for nine pounds.
C${TAB}${G}${TAB}$(librivox 0930 "he might even have been made amiable himself")
A${TAB}0.7${TAB}I will put a copy aside for you at the front desk.
C${TAB}${G}${TAB}Thank you, I will pick it up this afternoon.
A${TAB}${G}${TAB}See you then, goodbye.
SCRIPT

add e11 A101 "$AGENT_A101" "$CUSTOMER_EN_M7" left yes <<SCRIPT
A${TAB}0${TAB}Good afternoon, Bright Water utilities, this is Maria.
C${TAB}${G}${TAB}Hello, there is no water in my street since this morning.
A${TAB}0.7${TAB}I am sorry for the trouble. A pipe broke near the station.
A${TAB}0.5${TAB}Our team is repairing it and the water should be back by six o'clock.
C${TAB}${G}${TAB}Can you send a water tank in the meantime?
A${TAB}1.0${TAB}Yes, a truck with drinking water will come to your street within the hour.
C${TAB}${G}${TAB}Thank you for the quick answer.
A${TAB}${G}${TAB}You are welcome, have a nice day.
SCRIPT

add e12 A102 "$AGENT_A102" "$CUSTOMER_EN_KLATT" right no <<SCRIPT
A${TAB}0${TAB}Hello, this is Kate from Union Bank. How can I help you today?
C${TAB}${G}${TAB}I would like to increase the limit on my credit card.
A${TAB}0.8${TAB}Certainly. What limit would you like?
C${TAB}${G}${TAB}Three thousand dollars, please.
A${TAB}1.5${TAB}I have approved the new limit. It is active from tomorrow.
C${TAB}${G}${TAB}That was quick, thank you.
A${TAB}${G}${TAB}My pleasure. Thank you for calling, goodbye.
SCRIPT

write_manifest_and_expected
echo "english corpus written to $OUT_DIR: $(ls e*_mulaw.wav | wc -l) calls"
