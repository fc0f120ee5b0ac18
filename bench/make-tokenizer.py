"""A small local tokenizer for the third-party load generators (guidellm, inference-perf), which
need a Hugging Face tokenizer to make and count prompts. Trained offline with the `tokenizers`
package on generated English-like text (no hub download), saved as a directory AutoTokenizer can
load: tokenizer.json + tokenizer_config.json. Usage: python bench/make-tokenizer.py OUT_DIR"""
import json, os, random, sys
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rnd = random.Random(7)
words = ("the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part over new sound take only little work know place year live me back give most very after thing our just name good sentence man think say great where help through much before line right too mean old any same tell boy follow came want show also around form three small set put end does another well large must big even such because turn here why ask went men read need land different home us move try kind hand picture again change off play spell air away animal house point page letter mother answer found study still learn should world high").split()
corpus = [" ".join(rnd.choice(words) for _ in range(rnd.randint(5, 40))) + rnd.choice([".", "?", "!"]) for _ in range(20000)]
tok = Tokenizer(models.BPE(unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=2000, special_tokens=["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(corpus, trainer)
tok.save(os.path.join(out, "tokenizer.json"))
with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>", "model_max_length": 131072}, f)
with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
    json.dump({"unk_token": "<unk>", "bos_token": "<s>", "eos_token": "</s>"}, f)
print(out)
