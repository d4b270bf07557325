// Reference logits from llama.cpp, for the inference parity fixtures in tests/fixtures/parity/.
//
// Built and run by scripts/parity-fixtures.sh, which links it against the static llama.cpp
// libraries that scripts/llamacpp.sh builds (llama.cpp commit 0c1e57098). Uses only the public
// C API of llama.h; nlohmann/json (vendored in the llama.cpp tree) reads the prompts and writes
// the output.
//
// Usage:
//   llamacpp-logits --model MODEL.gguf --text TEXT_FILE --prompts PROMPTS.json
//                   [--threads N] [--greedy-threads N] [--top-k K] [--n-gen N]
//                   [--n-ctx N] [--kv-f32] [--no-flash-attn] [--verbose]
//
// Prints one JSON object to stdout (schema: see tests/fixtures/parity/README.md):
//   teacher_forced  TEXT_FILE's bytes, tokenized with the model's own add-BOS setting and no
//                   special-token parsing, evaluated in n_batch-token batches with logits for
//                   every position. Per position: the top-K ids and logits (ties: lower id
//                   first), log-sum-exp of the full logit vector, and the logit of the token
//                   that actually follows. Uses --threads threads.
//   greedy          per prompt (a JSON array of {"id", "text"} objects, or of plain strings),
//                   a fresh context: the prompt in one batch, then --n-gen argmax tokens, each
//                   evaluated on its own. Per step: the chosen id, the runner-up id and the
//                   top-1 minus top-2 logit gap. End-of-generation tokens do not stop it.
//                   Uses --greedy-threads threads.
// Logits, log-sum-exps and gaps are rounded to 5 decimal places. Context parameters are
// llama.cpp's defaults except n_ctx (2048) and n_batch = n_ubatch = 512, and, when asked,
// --kv-f32 (an f32 KV cache instead of f16) and --no-flash-attn (flash attention disabled
// instead of auto); the output's "context" block records the values used.

#include "llama.h"
#include "nlohmann/json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

using json = nlohmann::ordered_json;

static const char * LLAMACPP_COMMIT = "0c1e57098";
static const uint32_t N_BATCH = 512;

struct Options {
    std::string model;
    std::string text;
    std::string prompts;
    int threads = 2;
    int greedy_threads = 1;
    int top_k = 32;
    int n_gen = 64;
    uint32_t n_ctx = 2048;
    bool kv_f32 = false;
    bool no_flash_attn = false;
    bool verbose = false;
};

[[noreturn]] static void die(const std::string & msg) {
    fprintf(stderr, "llamacpp-logits: %s\n", msg.c_str());
    exit(1);
}

static void usage(int code) {
    fprintf(code == 0 ? stdout : stderr,
            "usage: llamacpp-logits --model MODEL.gguf --text TEXT_FILE --prompts PROMPTS.json\n"
            "                       [--threads N (2)] [--greedy-threads N (1)] [--top-k K (32)]\n"
            "                       [--n-gen N (64)] [--n-ctx N (2048)] [--kv-f32] [--no-flash-attn]\n"
            "                       [--verbose]\n");
    exit(code);
}

static Options parse_args(int argc, char ** argv) {
    Options o;
    auto value = [&](int & i) -> std::string {
        if (i + 1 >= argc) {
            die(std::string("missing value after ") + argv[i]);
        }
        return argv[++i];
    };
    auto number = [&](int & i) -> int {
        const std::string flag = argv[i];
        const std::string v = value(i);
        char * end = nullptr;
        const long n = strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n <= 0 || n > 1000000) {
            die("bad value for " + flag + ": " + v);
        }
        return (int) n;
    };
    for (int i = 1; i < argc; i++) {
        const std::string a = argv[i];
        if (a == "--model") {
            o.model = value(i);
        } else if (a == "--text") {
            o.text = value(i);
        } else if (a == "--prompts") {
            o.prompts = value(i);
        } else if (a == "--threads") {
            o.threads = number(i);
        } else if (a == "--greedy-threads") {
            o.greedy_threads = number(i);
        } else if (a == "--top-k") {
            o.top_k = number(i);
        } else if (a == "--n-gen") {
            o.n_gen = number(i);
        } else if (a == "--n-ctx") {
            o.n_ctx = (uint32_t) number(i);
        } else if (a == "--kv-f32") {
            o.kv_f32 = true;
        } else if (a == "--no-flash-attn") {
            o.no_flash_attn = true;
        } else if (a == "--verbose") {
            o.verbose = true;
        } else if (a == "-h" || a == "--help") {
            usage(0);
        } else {
            fprintf(stderr, "llamacpp-logits: unknown argument %s\n", a.c_str());
            usage(2);
        }
    }
    if (o.model.empty() || o.text.empty() || o.prompts.empty()) {
        usage(2);
    }
    return o;
}

static std::string read_file(const std::string & path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) {
        die("cannot read " + path);
    }
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

static std::string basename_of(const std::string & path) {
    const size_t slash = path.find_last_of('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

// --- logging -------------------------------------------------------------------------------
//
// llama.cpp resolves flash_attn_type = auto while it builds a context and only reports the
// outcome in its log, so the log is watched for that line. Everything else goes to stderr when
// --verbose is given (warnings and errors always).

static bool g_verbose = false;
static std::string g_log_line;
static std::string g_fa_resolved;

static void on_log(enum ggml_log_level level, const char * text, void * /*user_data*/) {
    static enum ggml_log_level line_level = GGML_LOG_LEVEL_INFO;
    if (level != GGML_LOG_LEVEL_CONT) {
        line_level = level;
    }
    g_log_line += text;
    if (g_log_line.empty() || g_log_line.back() != '\n') {
        return;
    }
    if (g_log_line.find("Flash Attention enabled") != std::string::npos) {
        g_fa_resolved = "enabled";
    } else if (g_log_line.find("Flash Attention not supported") != std::string::npos) {
        g_fa_resolved = "disabled";
    }
    if (g_verbose || line_level == GGML_LOG_LEVEL_WARN || line_level == GGML_LOG_LEVEL_ERROR) {
        fputs(g_log_line.c_str(), stderr);
    }
    g_log_line.clear();
}

// --- model helpers -------------------------------------------------------------------------

static std::vector<llama_token> tokenize(const llama_vocab * vocab, const std::string & text) {
    // add_special = false keeps EOS/SEP out; BOS is prepended by hand when the model asks.
    std::vector<llama_token> ids;
    if (llama_vocab_get_add_bos(vocab)) {
        ids.push_back(llama_vocab_bos(vocab));
    }
    const int32_t n = -llama_tokenize(vocab, text.data(), (int32_t) text.size(), nullptr, 0, false, false);
    if (n < 0) {
        die("tokenization failed");
    }
    const size_t start = ids.size();
    ids.resize(start + (size_t) n);
    if (n > 0 && llama_tokenize(vocab, text.data(), (int32_t) text.size(), ids.data() + start, n, false, false) != n) {
        die("tokenization returned an unexpected length");
    }
    return ids;
}

static std::string detokenize(const llama_vocab * vocab, const std::vector<llama_token> & ids) {
    std::string out(ids.size() * 16 + 16, '\0');
    int32_t n = llama_detokenize(vocab, ids.data(), (int32_t) ids.size(), out.data(), (int32_t) out.size(), false, true);
    if (n < 0) {
        out.resize((size_t) -n);
        n = llama_detokenize(vocab, ids.data(), (int32_t) ids.size(), out.data(), (int32_t) out.size(), false, true);
    }
    out.resize(n < 0 ? 0 : (size_t) n);
    return out;
}

static std::string meta_string(const llama_model * model, const char * key) {
    char buf[256];
    const int32_t n = llama_model_meta_val_str(model, key, buf, sizeof(buf));
    return n < 0 ? std::string() : std::string(buf);
}

static llama_context_params context_params(const Options & o, int threads) {
    llama_context_params p = llama_context_default_params();
    p.n_ctx = o.n_ctx;
    p.n_batch = N_BATCH;
    p.n_ubatch = N_BATCH;
    p.n_threads = threads;
    p.n_threads_batch = threads;
    if (o.kv_f32) {
        p.type_k = GGML_TYPE_F32;
        p.type_v = GGML_TYPE_F32;
    }
    if (o.no_flash_attn) {
        p.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    }
    return p;
}

static llama_context * new_context(llama_model * model, const llama_context_params & p, std::string & fa_resolved) {
    g_fa_resolved.clear();
    llama_context * ctx = llama_init_from_model(model, p);
    if (ctx == nullptr) {
        die("failed to create a llama context");
    }
    if (p.flash_attn_type == LLAMA_FLASH_ATTN_TYPE_AUTO) {
        fa_resolved = g_fa_resolved.empty() ? "unknown" : g_fa_resolved;
    } else {
        fa_resolved = llama_flash_attn_type_name(p.flash_attn_type);
    }
    return ctx;
}

static double round5(double x) {
    return std::round(x * 1e5) / 1e5;
}

// One sequence (seq 0) of tokens at positions pos0.., with outputs as asked.
static void fill_batch(llama_batch & b, const llama_token * ids, int32_t n, llama_pos pos0, bool all_logits) {
    b.n_tokens = n;
    for (int32_t i = 0; i < n; i++) {
        b.token[i] = ids[i];
        b.pos[i] = pos0 + i;
        b.n_seq_id[i] = 1;
        b.seq_id[i][0] = 0;
        b.logits[i] = (int8_t) (all_logits || i == n - 1);
    }
}

static void decode(llama_context * ctx, llama_batch & b) {
    const int32_t rc = llama_decode(ctx, b);
    if (rc != 0) {
        die("llama_decode failed with " + std::to_string(rc));
    }
}

// Statistics of one logit row.
struct RowStats {
    std::vector<int32_t> top;  // ids, best first; ties broken by the lower id
    double lse = 0.0;
};

static void row_stats(const float * logits, int32_t n_vocab, int k, std::vector<int32_t> & scratch, RowStats & out) {
    float max = -INFINITY;
    for (int32_t i = 0; i < n_vocab; i++) {
        if (!std::isfinite(logits[i])) {
            die("non-finite logit at vocab id " + std::to_string(i));
        }
        max = std::max(max, logits[i]);
    }
    double sum = 0.0;
    for (int32_t i = 0; i < n_vocab; i++) {
        sum += std::exp((double) logits[i] - (double) max);
    }
    out.lse = (double) max + std::log(sum);

    scratch.resize((size_t) n_vocab);
    std::iota(scratch.begin(), scratch.end(), 0);
    const int kk = std::min<int>(k, n_vocab);
    std::partial_sort(scratch.begin(), scratch.begin() + kk, scratch.end(), [&](int32_t a, int32_t b) {
        return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
    });
    out.top.assign(scratch.begin(), scratch.begin() + kk);
}

// --- the two runs --------------------------------------------------------------------------

static json teacher_forced(llama_model * model, const Options & o, json & ctx_info) {
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int32_t n_vocab = llama_vocab_n_tokens(vocab);
    const std::string text = read_file(o.text);
    const std::vector<llama_token> ids = tokenize(vocab, text);

    const llama_context_params p = context_params(o, o.threads);
    std::string fa;
    llama_context * ctx = new_context(model, p, fa);
    if (ids.size() > llama_n_ctx(ctx)) {
        die("text has " + std::to_string(ids.size()) + " tokens, more than n_ctx " + std::to_string(llama_n_ctx(ctx)));
    }
    ctx_info = {
        {"n_ctx", llama_n_ctx(ctx)},
        {"n_batch", llama_n_batch(ctx)},
        {"n_ubatch", llama_n_ubatch(ctx)},
        {"n_seq_max", llama_n_seq_max(ctx)},
        {"type_k", ggml_type_name(p.type_k)},
        {"type_v", ggml_type_name(p.type_v)},
        {"flash_attn_type", llama_flash_attn_type_name(p.flash_attn_type)},
        {"flash_attn", fa},
        {"swa_full", p.swa_full},
        {"kv_unified", p.kv_unified},
        {"use_extra_bufts", llama_model_default_params().use_extra_bufts},
    };

    json top_ids = json::array();
    json top_logits = json::array();
    json lse = json::array();
    json next_logit = json::array();
    std::vector<int32_t> scratch;
    RowStats st;
    llama_batch batch = llama_batch_init((int32_t) N_BATCH, 0, 1);
    const int32_t n = (int32_t) ids.size();
    for (int32_t start = 0; start < n; start += (int32_t) N_BATCH) {
        const int32_t len = std::min<int32_t>((int32_t) N_BATCH, n - start);
        fill_batch(batch, ids.data() + start, len, start, true);
        decode(ctx, batch);
        for (int32_t j = 0; j < len; j++) {
            const float * row = llama_get_logits_ith(ctx, j);
            if (row == nullptr) {
                die("no logits for batch row " + std::to_string(j));
            }
            row_stats(row, n_vocab, o.top_k, scratch, st);
            json lg = json::array();
            for (int32_t id : st.top) {
                lg.push_back(round5(row[id]));
            }
            top_ids.push_back(st.top);
            top_logits.push_back(std::move(lg));
            lse.push_back(round5(st.lse));
            const int32_t i = start + j;
            next_logit.push_back(i + 1 < n ? json(round5(row[ids[(size_t) i + 1]])) : json(nullptr));
        }
    }
    llama_batch_free(batch);
    llama_free(ctx);

    return {
        {"text_file", basename_of(o.text)},
        {"text_bytes", text.size()},
        {"parse_special", false},
        {"n_threads", o.threads},
        {"top_k", o.top_k},
        {"tokens", ids},
        {"top_ids", std::move(top_ids)},
        {"top_logits", std::move(top_logits)},
        {"lse", std::move(lse)},
        {"next_logit", std::move(next_logit)},
    };
}

static json greedy_one(llama_model * model, const Options & o, const std::string & id, const std::string & text,
                       std::string & fa) {
    const llama_vocab * vocab = llama_model_get_vocab(model);
    const int32_t n_vocab = llama_vocab_n_tokens(vocab);
    const std::vector<llama_token> prompt = tokenize(vocab, text);
    if (prompt.empty()) {
        die("prompt " + id + " has no tokens");
    }
    if (prompt.size() > N_BATCH || prompt.size() + (size_t) o.n_gen > o.n_ctx) {
        die("prompt " + id + " is too long");
    }

    llama_context * ctx = new_context(model, context_params(o, o.greedy_threads), fa);
    llama_batch batch = llama_batch_init((int32_t) N_BATCH, 0, 1);
    fill_batch(batch, prompt.data(), (int32_t) prompt.size(), 0, false);
    decode(ctx, batch);

    std::vector<llama_token> generated;
    std::vector<int32_t> runner_up;
    std::vector<double> gap;
    std::vector<int32_t> scratch;
    RowStats st;
    llama_pos pos = (llama_pos) prompt.size();
    for (int step = 0; step < o.n_gen; step++) {
        const float * row = llama_get_logits_ith(ctx, -1);
        if (row == nullptr) {
            die("no logits at greedy step " + std::to_string(step));
        }
        row_stats(row, n_vocab, 2, scratch, st);
        const llama_token next = st.top[0];
        generated.push_back(next);
        runner_up.push_back(st.top[1]);
        gap.push_back(round5((double) row[st.top[0]] - (double) row[st.top[1]]));
        if (step + 1 < o.n_gen) {
            fill_batch(batch, &next, 1, pos++, true);
            decode(ctx, batch);
        }
    }
    llama_batch_free(batch);
    llama_free(ctx);

    return {
        {"id", id},
        {"text", text},
        {"tokens", prompt},
        {"generated", generated},
        {"runner_up", runner_up},
        {"gap", gap},
        {"generated_text", detokenize(vocab, generated)},
    };
}

static json greedy(llama_model * model, const Options & o) {
    const json prompts = json::parse(read_file(o.prompts));
    if (!prompts.is_array()) {
        die(o.prompts + ": expected a JSON array");
    }
    json out = json::array();
    std::string fa_first;
    for (size_t i = 0; i < prompts.size(); i++) {
        const json & p = prompts[i];
        std::string id = "prompt" + std::to_string(i);
        std::string text;
        if (p.is_string()) {
            text = p.get<std::string>();
        } else if (p.is_object() && p.contains("text") && p["text"].is_string()) {
            text = p["text"].get<std::string>();
            if (p.contains("id") && p["id"].is_string()) {
                id = p["id"].get<std::string>();
            }
        } else {
            die(o.prompts + ": entry " + std::to_string(i) + " is neither a string nor {\"id\", \"text\"}");
        }
        std::string fa;
        out.push_back(greedy_one(model, o, id, text, fa));
        if (i == 0) {
            fa_first = fa;
        } else if (fa != fa_first) {
            die("flash attention resolved differently between greedy contexts");
        }
    }
    return out;
}

int main(int argc, char ** argv) {
    const Options o = parse_args(argc, argv);
    g_verbose = o.verbose;
    llama_log_set(on_log, nullptr);
    llama_backend_init();

    llama_model_params mp = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(o.model.c_str(), mp);
    if (model == nullptr) {
        die("failed to load " + o.model);
    }
    const llama_vocab * vocab = llama_model_get_vocab(model);
    char desc[256];
    llama_model_desc(model, desc, sizeof(desc));

    json ctx_info;
    const int64_t t0 = llama_time_us();
    json tf = teacher_forced(model, o, ctx_info);
    const int64_t t1 = llama_time_us();
    json gr = greedy(model, o);
    const int64_t t2 = llama_time_us();

    json out = {
        {"llamacpp_commit", LLAMACPP_COMMIT},
        {"model_file", basename_of(o.model)},
        {"model",
         {
             {"arch", meta_string(model, "general.architecture")},
             {"desc", desc},
             {"n_vocab", llama_vocab_n_tokens(vocab)},
             {"add_bos", llama_vocab_get_add_bos(vocab)},
             {"add_eos", llama_vocab_get_add_eos(vocab)},
             {"bos_id", llama_vocab_bos(vocab)},
         }},
        {"n_threads", o.threads},
        {"greedy_n_threads", o.greedy_threads},
        {"context", ctx_info},
        {"system_info", llama_print_system_info()},
        {"logit_decimals", 5},
        {"teacher_forced", std::move(tf)},
        {"greedy", std::move(gr)},
    };
    fputs(out.dump(-1, ' ', false, json::error_handler_t::replace).c_str(), stdout);
    fputc('\n', stdout);
    fprintf(stderr, "llamacpp-logits: %s: %zu text tokens in %.1f s (%d threads), %zu greedy prompts in %.1f s (%d threads)\n",
            basename_of(o.model).c_str(), out["teacher_forced"]["tokens"].size(), (t1 - t0) / 1e6, o.threads,
            out["greedy"].size(), (t2 - t1) / 1e6, o.greedy_threads);

    llama_model_free(model);
    llama_backend_free();
    return 0;
}
