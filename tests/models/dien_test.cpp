// DIEN built through the registry, against a slow reference written with plain libtorch ops
// (each row's GRU and AUGRU step by step with the gate formulas, the attention MLP and softmax
// by hand, Dice and PReLU by their formulas, the auxiliary loss pair by pair); gradients by
// finite differences; masks and row independence; the inference engine against the forward;
// the architecture and weights round trip; the pairing of histories with targets.
#include "aiok/models/dien.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <thread>

#include "aiok/models/model.h"
#include "aiok/models/precision.h"
#include "model_test_data.h"

namespace aiok::models {
namespace {

using data::JaggedFeature;

// user, item (11 ids), cat (5), hour; hist_item and hist_cat paired with item and cat; an
// unpaired list of tags; two dense fields.
data::FeatureLayout DienLayout(bool with_extras = true) {
  data::FeatureLayout layout;
  if (with_extras)
    layout.dense = {"d0", "d1"};
  layout.categorical = {{"user", 7}, {"item", 11}, {"cat", 5}};
  if (with_extras)
    layout.categorical.push_back({"hour", 3});
  layout.jagged = {{"hist_item", JaggedFeature::Kind::kSequence, 11, 0},
                   {"hist_cat", JaggedFeature::Kind::kSequence, 5, 0}};
  if (with_extras)
    layout.jagged.push_back({"tags", JaggedFeature::Kind::kMultiCategorical, 6, 0});
  return layout;
}

// Random rows: histories of 0..longest events (the paired ones equally long), target items
// drawn from the first 6 ids only, so that items 6..10 are seen only in histories.
data::FeatureBatch DienBatch(const data::FeatureLayout& layout, int64_t rows, int64_t longest,
                             uint64_t seed) {
  torch::manual_seed(seed);
  data::FeatureBatch batch = data::AllocateFeatureBatch(layout, rows, true);
  data::FeatureBatchStorage& s = *batch.storage;
  auto draw = [](int64_t n) { return static_cast<int32_t>(torch::randint(n, {}).item<int64_t>()); };
  for (int64_t r = 0; r < rows; ++r) {
    s.labels[r] = static_cast<float>(draw(2));
    for (int64_t j = 0; j < layout.dense_width(); ++j)
      s.dense[r * layout.dense_width() + j] = torch::randn({}).item<float>();
    for (int64_t c = 0; c < layout.categorical_width(); ++c) {
      const int64_t size =
          layout.categorical[c].name == "item" ? 6 : layout.categorical[c].cardinality;
      s.categorical[r * layout.categorical_width() + c] = draw(size);
    }
    const int64_t length = draw(longest + 1);
    for (size_t f = 0; f < layout.jagged.size(); ++f) {
      const bool history = layout.jagged[f].kind == JaggedFeature::Kind::kSequence;
      const int64_t n = history ? length : draw(4);
      for (int64_t k = 0; k < n; ++k)
        s.values[f].push_back(draw(layout.jagged[f].cardinality));
      s.offsets[f][r + 1] = static_cast<int64_t>(s.values[f].size());
    }
  }
  batch.ViewStorage();
  return batch;
}

// A copy of `batch` whose row `r` has history `items`/`cats` (all other rows as they were).
data::FeatureBatch WithHistory(const data::FeatureBatch& batch, const data::FeatureLayout& layout,
                               int64_t r, const std::vector<int32_t>& items,
                               const std::vector<int32_t>& cats) {
  std::vector<int64_t> all(static_cast<size_t>(batch.rows));
  std::iota(all.begin(), all.end(), 0);
  data::FeatureBatch out = data::GatherFeatureRows(batch, layout, all);
  data::FeatureBatchStorage& s = *out.storage;
  for (size_t f = 0; f < 2; ++f) {
    const std::vector<int32_t>& values = f == 0 ? items : cats;
    std::vector<int32_t> merged;
    std::vector<int64_t> offsets = {0};
    for (int64_t row = 0; row < batch.rows; ++row) {
      if (row == r) {
        merged.insert(merged.end(), values.begin(), values.end());
      } else {
        merged.insert(merged.end(), s.values[f].begin() + s.offsets[f][row],
                      s.values[f].begin() + s.offsets[f][row + 1]);
      }
      offsets.push_back(static_cast<int64_t>(merged.size()));
    }
    s.values[f] = merged;
    s.offsets[f] = offsets;
  }
  out.ViewStorage();
  return out;
}

// ---- the reference ----

using Params = std::map<std::string, torch::Tensor>;

struct Reference {
  Params p;             // leaf copies of the model's parameters
  torch::Tensor table;  // leaf copy of the embedding weight
  torch::Tensor lists;  // leaf copy of the pooled lists' weight (if any)
  torch::Tensor aux;    // the auxiliary loss of the last training forward

  explicit Reference(DienImpl& model) {
    for (const auto& item : model.named_parameters())
      p[item.key()] = item.value().detach().clone().requires_grad_();
    table = model.embedding()->weight.detach().clone().requires_grad_();
    if (model.lists())
      lists = model.lists()->weight.detach().clone().requires_grad_();
  }

  torch::Tensor Linear(const std::string& name, const torch::Tensor& x) const {
    return torch::matmul(x, p.at(name + ".weight").t()) + p.at(name + ".bias");
  }

  // Linear layers "prefix.0", "prefix.2", ... with sigmoid between them.
  torch::Tensor SigmoidMlp(const std::string& prefix, torch::Tensor x, int64_t layers) const {
    for (int64_t i = 0; i < layers; ++i) {
      x = Linear(prefix + "." + std::to_string(2 * i), x);
      if (i + 1 < layers)
        x = torch::sigmoid(x);
    }
    return x;
  }

  // The GRU step by its gate formulas; `a` the AUGRU's attention (1 for a GRU).
  torch::Tensor Step(const std::string& gru, const torch::Tensor& x, const torch::Tensor& h,
                     const torch::Tensor& a) const {
    const int64_t hs = h.size(0);
    const torch::Tensor& w_ih = p.at(gru + ".input.weight");
    const torch::Tensor& b_ih = p.at(gru + ".input.bias");
    const torch::Tensor& w_hh = p.at(gru + ".w_hh");
    const torch::Tensor& b_hh = p.at(gru + ".b_hh");
    auto gate = [&](int k, const torch::Tensor& input) {
      return torch::mv(w_ih.narrow(0, k * hs, hs), input) + b_ih.narrow(0, k * hs, hs);
    };
    auto rec = [&](int k, const torch::Tensor& state) {
      return torch::mv(w_hh.narrow(0, k * hs, hs), state) + b_hh.narrow(0, k * hs, hs);
    };
    const torch::Tensor r = torch::sigmoid(gate(0, x) + rec(0, h));
    const torch::Tensor z = torch::sigmoid(gate(1, x) + rec(1, h));
    const torch::Tensor n = torch::tanh(gate(2, x) + r * rec(2, h));
    const torch::Tensor u = a * (1 - z);  // the paper's update gate (1 - z) scaled by attention
    return (1 - u) * h + u * n;
  }

  torch::Tensor Forward(DienImpl& model, const data::FeatureBatch& batch, bool training) {
    const DienArchitecture& a = model.architecture();
    const int64_t rows = batch.rows;
    const auto c_width = static_cast<int64_t>(a.table_sizes.size());
    const int64_t d = a.embedding_dim;
    const int64_t e_width = a.behaviour_width();
    const int64_t hs = a.hidden;
    const std::vector<int64_t> column_tables = a.ColumnTables();
    const std::vector<int64_t>& offsets = model.embedding()->offsets();
    auto embed = [&](int64_t table_index, int64_t id) { return table[offsets[table_index] + id]; };
    // Each row's behaviours and extractor states, for the auxiliary loss.
    std::vector<std::vector<torch::Tensor>> behaviours(static_cast<size_t>(rows));
    std::vector<std::vector<torch::Tensor>> states(static_cast<size_t>(rows));
    std::vector<int64_t> skipped(static_cast<size_t>(rows));
    std::vector<torch::Tensor> inputs;
    for (int64_t b = 0; b < rows; ++b) {
      const int32_t* ids = batch.categorical + b * c_width;
      std::vector<torch::Tensor> target_parts;
      for (size_t k = 0; k < a.pairs.size(); ++k)
        target_parts.push_back(embed(static_cast<int64_t>(k), ids[a.pairs[k].target]));
      const torch::Tensor target = torch::cat(target_parts);
      const int64_t full = batch.jagged[a.pairs[0].history].length(b);
      const int64_t length = std::min(full, a.max_history);
      skipped[b] = full - length;
      for (int64_t t = 0; t < length; ++t) {
        std::vector<torch::Tensor> parts;
        for (size_t k = 0; k < a.pairs.size(); ++k) {
          const data::JaggedIds& list = batch.jagged[a.pairs[k].history];
          parts.push_back(
              embed(static_cast<int64_t>(k), list.values[list.offsets[b] + full - length + t]));
        }
        behaviours[b].push_back(torch::cat(parts));
      }
      torch::Tensor h = torch::zeros({hs});
      for (const torch::Tensor& e : behaviours[b]) {
        h = Step("extractor", e, h, torch::ones({}));
        states[b].push_back(h);
      }
      torch::Tensor q = Linear("query", target);
      q = q.clamp_min(0) + p.at("query_activation.alpha") * q.clamp_max(0);
      torch::Tensor interest = torch::zeros({hs});
      torch::Tensor mean = torch::zeros({e_width});
      if (length > 0) {
        std::vector<torch::Tensor> scores;
        for (const torch::Tensor& s : states[b]) {
          scores.push_back(SigmoidMlp("attention", torch::cat({q, s, q - s, q * s}),
                                      static_cast<int64_t>(a.attention_mlp.size()) + 1));
        }
        const torch::Tensor alpha = torch::softmax(torch::cat(scores), 0);
        for (int64_t t = 0; t < length; ++t)
          interest = Step("evolution", states[b][t], interest, alpha[t]);
        mean = torch::stack(behaviours[b]).mean(0);
      }
      std::vector<torch::Tensor> row;
      if (a.dense_features > 0)
        row.push_back(torch::from_blob(const_cast<float*>(batch.dense + b * a.dense_features),
                                       {a.dense_features}));
      for (int32_t c : a.OtherColumns())
        row.push_back(embed(column_tables[c], ids[c]));
      const std::vector<int32_t> unpaired = a.UnpairedLists();
      for (size_t j = 0; j < unpaired.size(); ++j) {
        const data::JaggedIds& list = batch.jagged[unpaired[j]];
        torch::Tensor sum = torch::zeros({d});
        for (int64_t k = list.offsets[b]; k < list.offsets[b + 1]; ++k)
          sum = sum + lists[model.lists()->offsets()[j] + list.values[k]];
        row.push_back(list.length(b) > 0 ? sum / static_cast<double>(list.length(b)) : sum);
      }
      row.push_back(target);
      row.push_back(mean);
      row.push_back(target * mean);
      row.push_back(interest);
      inputs.push_back(torch::cat(row));
    }
    // The final MLP, Dice with the batch's statistics in training, running ones in evaluation.
    torch::Tensor x = torch::stack(inputs);
    const auto hidden_layers = static_cast<int64_t>(a.mlp.size());
    for (int64_t i = 0; i < hidden_layers; ++i) {
      x = Linear("mlp." + std::to_string(2 * i), x);
      const std::string act = "mlp." + std::to_string(2 * i + 1);
      const torch::Tensor& alpha = p.at(act + ".alpha");
      if (a.activation == "prelu") {
        x = x.clamp_min(0) + alpha * x.clamp_max(0);
      } else {
        auto* dice = model.mlp()->ptr(2 * i + 1)->as<DienActivationImpl>();
        const torch::Tensor mean = training ? x.mean(0) : dice->running_mean;
        const torch::Tensor var = training ? (x - x.mean(0)).pow(2).mean(0) : dice->running_var;
        const torch::Tensor gate = torch::sigmoid((x - mean) / torch::sqrt(var + 1e-8));
        x = gate * x + (1 - gate) * alpha * x;
      }
    }
    const torch::Tensor logits = Linear("mlp." + std::to_string(2 * hidden_layers), x).squeeze(1);

    // The auxiliary loss pair by pair: state h_t against behaviour t+1 and the model's
    // negative for that pair (the sampling is the model's; the loss is checked given it).
    aux = torch::Tensor();
    if (training) {
      const DienBatchPlan plan = model.Plan(batch);
      std::vector<int64_t> positives;
      std::vector<std::pair<int64_t, int64_t>> pairs;  // (row, t) of each state
      for (int64_t t = 0; t + 1 < plan.packed.steps(); ++t) {
        for (int64_t i = 0; i < plan.packed.batch_sizes[t + 1]; ++i) {
          positives.push_back(plan.packed.step_offsets[t + 1] + i);
          pairs.emplace_back(plan.lookup.event_rows[positives.back()], t);
        }
      }
      const std::vector<int64_t> negatives = DienNegatives(batch, plan, positives);
      torch::Tensor sum = torch::zeros({});
      const auto layers = static_cast<int64_t>(a.aux_mlp.size()) + 1;
      for (size_t k = 0; k < pairs.size(); ++k) {
        const auto [b, t] = pairs[k];
        const int64_t nb = plan.lookup.event_rows[negatives[k]];
        const int64_t nt = plan.lookup.event_positions[negatives[k]] - skipped[nb];
        const torch::Tensor& h = states[b][t];
        const torch::Tensor pos =
            SigmoidMlp("aux_mlp", torch::cat({h, behaviours[b][t + 1]}), layers);
        const torch::Tensor neg =
            SigmoidMlp("aux_mlp", torch::cat({h, behaviours[nb][nt]}), layers);
        sum =
            sum - torch::log(torch::sigmoid(pos)).sum() - torch::log(1 - torch::sigmoid(neg)).sum();
      }
      aux = pairs.empty() ? sum : sum * (a.aux_weight / static_cast<double>(pairs.size()));
    }
    return logits;
  }
};

// A group's sparse gradient as a dense [rows x dim] tensor.
torch::Tensor Densify(SparseParameterGroup& group) {
  const SparseGradient& sparse = group.gradient();
  torch::Tensor dense = torch::zeros({group.rows(), group.dim()});
  for (int64_t u = 0; u < sparse.size(); ++u) {
    EXPECT_TRUE(u == 0 || sparse.ids[u] > sparse.ids[u - 1]) << "ids unique and ascending";
    dense[sparse.ids[u]] =
        torch::from_blob(const_cast<float*>(sparse.rows.data()) + u * sparse.dim, {sparse.dim});
  }
  return dense;
}

torch::Tensor GradOrZeros(const torch::Tensor& t) {
  return t.grad().defined() ? t.grad() : torch::zeros_like(t);
}

const nlohmann::json kTiny = {{"preset", "dien-small"}, {"emb-dim", 3},     {"hidden", 5},
                              {"attention-mlp", "6-4"}, {"mlp", "8-4"},     {"aux-mlp", "5-3"},
                              {"max-history", 4},       {"aux-weight", 0.7}};

std::unique_ptr<Model> MakeModel(const data::FeatureLayout& layout, nlohmann::json options,
                                 uint64_t seed = 3) {
  torch::manual_seed(seed);
  std::unique_ptr<Model> model = BuiltinModels().Create("dien", layout, options);
  auto dien = std::dynamic_pointer_cast<DienImpl>(model->module());
  torch::NoGradGuard no_grad;
  // Trained-looking weights: embeddings well away from zero, Dice's statistics not at their
  // start.
  dien->embedding()->weight.normal_(0.0, 0.5);
  if (dien->lists())
    dien->lists()->weight.normal_(0.0, 0.5);
  for (const auto& item : dien->named_buffers()) {
    if (item.key().find("running_mean") != std::string::npos)
      item.value().normal_(0.0, 0.5);
    if (item.key().find("running_var") != std::string::npos)
      item.value().uniform_(0.5, 2.0);
  }
  for (const auto& item : dien->named_parameters()) {
    if (item.key().find(".alpha") != std::string::npos)
      item.value().uniform_(-0.5, 0.5);
  }
  return model;
}

DienImpl& Module(Model& model) { return *std::dynamic_pointer_cast<DienImpl>(model.module()); }

void CheckAgainstReference(const data::FeatureLayout& layout, const nlohmann::json& options,
                           bool training) {
  SCOPED_TRACE(options.dump() + (training ? " training" : " eval"));
  std::unique_ptr<Model> model = MakeModel(layout, options);
  DienImpl& dien = Module(*model);
  training ? dien.train() : dien.eval();
  const data::FeatureBatch batch = DienBatch(layout, 23, 6, 4);
  Reference reference(dien);
  const torch::Tensor expected = reference.Forward(dien, batch, training);
  const torch::Tensor got = model->Forward(batch);
  ASSERT_EQ(got.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(got, expected, 1e-4, 1e-5))
      << (got - expected).abs().max().item<float>();
  if (!training) {
    EXPECT_FALSE(model->AuxiliaryLoss().defined()) << "no training forward yet";
    return;
  }
  const torch::Tensor aux = model->AuxiliaryLoss();
  ASSERT_TRUE(aux.defined());
  EXPECT_NEAR(aux.item<double>(), reference.aux.item<double>(), 1e-5);
  EXPECT_GT(aux.item<double>(), 0.0);

  // Backward of the task loss plus the auxiliary loss: the embedding's sparse gradient and
  // every dense parameter's gradient as the reference's.
  const torch::Tensor labels = torch::from_blob(const_cast<float*>(batch.labels), {batch.rows});
  (torch::binary_cross_entropy_with_logits(got, labels) + aux).backward();
  (torch::binary_cross_entropy_with_logits(expected, labels) + reference.aux).backward();
  const torch::Tensor table_grad = Densify(*dien.embedding());
  EXPECT_TRUE(torch::allclose(table_grad, GradOrZeros(reference.table), 1e-4, 1e-6))
      << (table_grad - GradOrZeros(reference.table)).abs().max().item<float>();
  if (dien.lists()) {
    EXPECT_TRUE(torch::allclose(Densify(*dien.lists()), GradOrZeros(reference.lists), 1e-4, 1e-6));
  }
  for (const auto& item : dien.named_parameters()) {
    const torch::Tensor want = GradOrZeros(reference.p.at(item.key()));
    const torch::Tensor have = GradOrZeros(item.value());
    EXPECT_TRUE(torch::allclose(have, want, 1e-3, 1e-5))
        << item.key() << ": " << (have - want).abs().max().item<float>();
    EXPECT_GT(want.abs().sum().item<float>(), 0.0f) << item.key() << " has no gradient";
  }
}

TEST(Dien, ForwardMatchesTheReferenceInTrainingAndEvaluation) {
  for (const char* activation : {"dice", "prelu"}) {
    nlohmann::json options = kTiny;
    options["activation"] = activation;
    for (bool training : {true, false})
      CheckAgainstReference(DienLayout(), options, training);
  }
  // No dense field, no other field: only the pairs; the regression task; one pair only.
  CheckAgainstReference(DienLayout(false), kTiny, true);
  data::FeatureLayout regression = DienLayout();
  regression.task = data::Task::kRegression;
  CheckAgainstReference(regression, kTiny, true);
  nlohmann::json one_pair = kTiny;
  one_pair["targets"] = "item";
  CheckAgainstReference(DienLayout(), one_pair, true);
}

TEST(Dien, GradientsMatchFiniteDifferences) {
  // The loss a training step sees (task + auxiliary) as a function of single weights: rows of
  // the shared table seen as targets and only in histories, the GRU's and AUGRU's weights,
  // the attention MLP, the query, the auxiliary MLP, and the final MLP. Dice, smooth
  // everywhere: PReLU's kink makes a difference quotient wrong when a unit crosses zero.
  const data::FeatureLayout layout = DienLayout();
  nlohmann::json options = kTiny;
  options["activation"] = "dice";
  std::unique_ptr<Model> model = MakeModel(layout, options, 5);
  DienImpl& dien = Module(*model);
  dien.train();
  const data::FeatureBatch batch = DienBatch(layout, 12, 5, 9);
  const torch::Tensor labels = torch::from_blob(const_cast<float*>(batch.labels), {batch.rows});
  auto loss = [&] {
    const torch::Tensor out = model->Forward(batch);
    return torch::binary_cross_entropy_with_logits(out, labels) + model->AuxiliaryLoss();
  };
  loss().backward();
  const torch::Tensor table_grad = Densify(*dien.embedding());
  std::map<std::string, torch::Tensor> grads;
  for (const auto& item : dien.named_parameters())
    grads[item.key()] = GradOrZeros(item.value()).clone();
  torch::NoGradGuard no_grad;
  auto numeric = [&](const torch::Tensor& weight, int64_t index) {
    const double h = 2e-3;
    float* w = weight.data_ptr<float>() + index;
    const float saved = *w;
    *w = saved + static_cast<float>(h);
    const double up = loss().item<double>();
    *w = saved - static_cast<float>(h);
    const double down = loss().item<double>();
    *w = saved;
    return (up - down) / (2 * h);
  };
  auto expect_near = [](double numeric_value, double analytic, const std::string& what) {
    EXPECT_NEAR(numeric_value, analytic, 5e-4 + 0.03 * std::abs(analytic)) << what;
  };
  // Table rows: item ids 0..5 are targets (and in histories), 6..10 only in histories.
  const int64_t item_table = dien.embedding()->offsets()[0];
  int history_only = 0;
  for (int64_t id : {1, 4, 7, 9, 10}) {
    for (int64_t j = 0; j < 3; ++j) {
      const int64_t index = (item_table + id) * 3 + j;
      const double analytic = table_grad.view(-1)[index].item<double>();
      expect_near(numeric(dien.embedding()->weight, index), analytic,
                  "item " + std::to_string(id) + " dim " + std::to_string(j));
      history_only += id >= 6 && analytic != 0.0;
    }
  }
  EXPECT_GT(history_only, 0) << "rows seen only in histories get gradients";
  int checked = 0;
  for (const char* name :
       {"extractor.w_hh", "extractor.b_hh", "extractor.input.weight", "evolution.w_hh",
        "evolution.input.weight", "attention.0.weight", "attention.4.weight", "query.weight",
        "aux_mlp.0.weight", "mlp.0.weight", "mlp.1.alpha"}) {
    const torch::Tensor weight = dien.named_parameters()[name];
    const torch::Tensor& analytic = grads.at(name);
    for (int64_t i = 0; i < weight.numel(); i += std::max<int64_t>(1, weight.numel() / 7)) {
      expect_near(numeric(weight, i), analytic.view(-1)[i].item<double>(),
                  std::string(name) + "[" + std::to_string(i) + "]");
      checked += analytic.view(-1)[i].item<double>() != 0.0;
    }
  }
  EXPECT_GT(checked, 40);
}

TEST(Dien, PaddingOtherRowsAndOldEventsNeverChangeAPrediction) {
  const data::FeatureLayout layout = DienLayout();
  for (const char* activation : {"dice", "prelu"}) {
    nlohmann::json options = kTiny;
    options["activation"] = activation;
    std::unique_ptr<Model> model = MakeModel(layout, options);
    DienImpl& dien = Module(*model);
    // Dice normalizes by the batch in training: rows are independent only in evaluation.
    const bool prelu = std::string(activation) == "prelu";
    for (bool training : {false, true}) {
      if (training && !prelu)
        continue;
      SCOPED_TRACE(std::string(activation) + (training ? " training" : " eval"));
      training ? dien.train() : dien.eval();
      const data::FeatureBatch batch = DienBatch(layout, 17, 3, 21);
      const torch::Tensor all = model->Forward(batch).detach();
      // Each row scored alone (no other row, no longer history to pad to) as in the batch.
      for (int64_t r = 0; r < batch.rows; ++r) {
        const data::FeatureBatch alone = data::GatherFeatureRows(batch, layout, {r});
        EXPECT_NEAR(model->Forward(alone).item<float>(), all[r].item<float>(), 1e-5) << r;
      }
      // Another row's history much longer (the batch's steps grow) or emptied: row 0 unchanged.
      for (const auto& history :
           {std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1}, std::vector<int32_t>{}}) {
        const data::FeatureBatch changed =
            WithHistory(batch, layout, 5, history, std::vector<int32_t>(history.size(), 2));
        const torch::Tensor out = model->Forward(changed).detach();
        for (int64_t r = 0; r < batch.rows; ++r) {
          if (r != 5) {
            EXPECT_NEAR(out[r].item<float>(), all[r].item<float>(), 1e-5) << r;
          }
        }
      }
      // Events older than the last max-history (4) are not read: changing them changes nothing,
      // changing a recent one does.
      const std::vector<int32_t> items = {1, 2, 3, 4, 5, 6, 7};
      const std::vector<int32_t> cats = {0, 1, 2, 3, 4, 0, 1};
      const data::FeatureBatch base = WithHistory(batch, layout, 2, items, cats);
      const float before = model->Forward(base)[2].item<float>();
      const data::FeatureBatch older =
          WithHistory(batch, layout, 2, {9, 0, 10, 4, 5, 6, 7}, {4, 4, 0, 3, 4, 0, 1});
      EXPECT_NEAR(model->Forward(older)[2].item<float>(), before, 1e-6);
      const data::FeatureBatch recent =
          WithHistory(batch, layout, 2, {1, 2, 3, 4, 5, 6, 10}, {0, 1, 2, 3, 4, 0, 4});
      EXPECT_GT(std::abs(model->Forward(recent)[2].item<float>() - before), 1e-6);
    }
  }
}

TEST(Dien, EmptyHistoriesAndEmptyBatchesWork) {
  const data::FeatureLayout layout = DienLayout();
  std::unique_ptr<Model> model = MakeModel(layout, kTiny);
  DienImpl& dien = Module(*model);
  const data::FeatureBatch none = DienBatch(layout, 6, 0, 1);  // every history empty
  for (bool training : {true, false}) {
    training ? dien.train() : dien.eval();
    Reference reference(dien);
    const torch::Tensor got = model->Forward(none);
    EXPECT_TRUE(torch::allclose(got, reference.Forward(dien, none, training), 1e-4, 1e-5));
    EXPECT_TRUE(torch::isfinite(got).all().item<bool>());
    if (training) {
      got.sum().backward();
      EXPECT_EQ(model->AuxiliaryLoss().item<float>(), 0.0f);
    }
    const data::FeatureBatch empty = data::AllocateFeatureBatch(layout, 0, true);
    EXPECT_EQ(model->Forward(empty).numel(), 0);
  }
  std::vector<float> scores(6);
  model->MakeInferenceEngine(false)->Predict(none, scores.data());
  for (float s : scores)
    EXPECT_TRUE(s > 0.0f && s < 1.0f);
}

TEST(Dien, InferenceEngineEqualsTheForwardFromSeveralThreads) {
  const data::FeatureLayout layout = DienLayout();
  for (const char* activation : {"dice", "prelu"}) {
    SCOPED_TRACE(activation);
    nlohmann::json options = kTiny;
    options["activation"] = activation;
    std::unique_ptr<Model> model = MakeModel(layout, options);
    DienImpl& dien = Module(*model);
    // Longer histories than max-history (4), empty ones, an unpaired list; more rows than a
    // chunk would be slow here, so the chunking is left to the CLI tests.
    const data::FeatureBatch batch = DienBatch(layout, 300, 7, 8);
    // The engine is made while the model trains; it scores as the model in evaluation mode.
    dien.train();
    const std::unique_ptr<InferenceEngine> engine = model->MakeInferenceEngine(false);
    dien.eval();
    const torch::Tensor want = torch::sigmoid(model->Forward(batch)).detach();
    std::vector<std::vector<float>> scores(4, std::vector<float>(static_cast<size_t>(batch.rows)));
    std::vector<std::thread> threads;
    for (auto& out : scores)
      threads.emplace_back([&engine, &batch, &out] { engine->Predict(batch, out.data()); });
    for (std::thread& t : threads)
      t.join();
    for (auto& out : scores) {
      const torch::Tensor got = torch::from_blob(out.data(), {batch.rows});
      EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-6)) << (got - want).abs().max().item<float>();
    }
    // Asked for bf16, the engine still answers (in fp32).
    std::vector<float> bf16(static_cast<size_t>(batch.rows));
    model->MakeInferenceEngine(true)->Predict(batch, bf16.data());
    const torch::Tensor got = torch::from_blob(bf16.data(), {batch.rows});
    EXPECT_LT((got - want).abs().max().item<float>(), 0.05);
    // The engine holds the weights it was made with; the table is shared.
    {
      torch::NoGradGuard no_grad;
      for (const auto& item : dien.named_parameters())
        item.value().add_(0.1);
    }
    std::vector<float> again(static_cast<size_t>(batch.rows));
    engine->Predict(batch, again.data());
    EXPECT_TRUE(torch::allclose(torch::from_blob(again.data(), {batch.rows}), want, 1e-5, 1e-6));
  }
  // A regression model's engine answers values, not probabilities.
  data::FeatureLayout regression = layout;
  regression.task = data::Task::kRegression;
  std::unique_ptr<Model> model = MakeModel(regression, kTiny);
  Module(*model).eval();
  const data::FeatureBatch batch = DienBatch(regression, 40, 5, 2);
  std::vector<float> values(40);
  model->MakeInferenceEngine(false)->Predict(batch, values.data());
  EXPECT_TRUE(
      torch::allclose(torch::from_blob(values.data(), {40}), model->Forward(batch), 1e-5, 1e-6));
  // An id outside its table is refused, naming it.
  data::FeatureBatch bad = DienBatch(layout, 3, 2, 1);
  bad.storage->categorical[1] = 99;
  std::vector<float> out(3);
  EXPECT_NE(
      ErrorOf([&] { model->MakeInferenceEngine(false)->Predict(bad, out.data()); }).find("id 99"),
      std::string::npos);
}

TEST(Dien, RunsUnderBf16AutocastCloseToFp32) {
  // The trainer's --precision bf16: the GEMMs of the MLPs and input projections in bf16, the
  // recurrence, lookups and losses in fp32. The outputs move, but not far; gradients flow.
  const data::FeatureLayout layout = DienLayout();
  std::unique_ptr<Model> model = MakeModel(layout, kTiny);
  Module(*model).train();
  const data::FeatureBatch batch = DienBatch(layout, 64, 6, 3);
  const torch::Tensor fp32 = model->Forward(batch).detach();
  const torch::Tensor fp32_aux = model->AuxiliaryLoss().detach();
  torch::Tensor bf16;
  torch::Tensor bf16_aux;
  {
    Bf16Autocast autocast(true);
    bf16 = model->Forward(batch);
    bf16_aux = model->AuxiliaryLoss();
  }
  EXPECT_EQ(bf16.scalar_type(), torch::kFloat32);
  EXPECT_FALSE(torch::equal(bf16.detach(), fp32)) << "autocast reached no GEMM";
  EXPECT_LT((bf16.detach() - fp32).abs().max().item<float>(), 0.1);
  EXPECT_NEAR(bf16_aux.item<float>(), fp32_aux.item<float>(), 0.05);
  (bf16.sum() + bf16_aux).backward();
  EXPECT_GT(Densify(*Module(*model).embedding()).abs().sum().item<float>(), 0.0f);
  EXPECT_TRUE(Module(*model).extractor()->w_hh.grad().defined());
}

TEST(Dien, ArchitectureAndWeightsRoundTrip) {
  const data::FeatureLayout layout = DienLayout();
  std::unique_ptr<Model> model = MakeModel(layout, kTiny);
  Module(*model).eval();
  const data::FeatureBatch batch = DienBatch(layout, 20, 6, 2);
  const torch::Tensor got = model->Forward(batch);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("aiok_dien_test_" + std::to_string(getpid()) + ".pt"))
                               .string();
  SaveWeights(*model, path);
  std::unique_ptr<Model> rebuilt = BuiltinModels().FromArchitecture("dien", model->Architecture());
  LoadWeights(*rebuilt, path);
  std::filesystem::remove(path);
  Module(*rebuilt).eval();
  EXPECT_EQ(rebuilt->Architecture(), model->Architecture());
  EXPECT_TRUE(torch::allclose(rebuilt->Forward(batch), got));
  rebuilt->CheckLayout(layout);
  data::FeatureLayout renamed = layout;
  renamed.jagged[1].name = "clicked_cats";
  EXPECT_NE(ErrorOf([&] { rebuilt->CheckLayout(renamed); }).find("pairs history 'hist_cat'"),
            std::string::npos);
}

TEST(Dien, PresetsPairsAndGroups) {
  const data::FeatureLayout layout = DienLayout();
  std::unique_ptr<Model> model = BuiltinModels().Create("dien", layout, nullptr);
  const nlohmann::json a = model->Architecture();
  // The reference code's: 18 per id, hidden = behaviour width (2 x 18), 80-40, 200-80 Dice.
  EXPECT_EQ(a.at("embedding_dim"), 18);
  EXPECT_EQ(a.at("hidden"), 36);
  EXPECT_EQ(a.at("attention_mlp"), (std::vector<int64_t>{80, 40}));
  EXPECT_EQ(a.at("mlp"), (std::vector<int64_t>{200, 80}));
  EXPECT_EQ(a.at("activation"), "dice");
  EXPECT_EQ(a.at("max_history"), 100);
  ASSERT_EQ(a.at("pairs").size(), 2u);
  EXPECT_EQ(a.at("pairs")[0].at("target_name"), "item");
  EXPECT_EQ(a.at("pairs")[0].at("history_name"), "hist_item");
  EXPECT_EQ(a.at("pairs")[1].at("target_name"), "cat");
  const nlohmann::json small =
      BuiltinModels().Create("dien", layout, {{"preset", "dien-small"}})->Architecture();
  EXPECT_EQ(small.at("embedding_dim"), 8);
  EXPECT_EQ(small.at("hidden"), 16);
  EXPECT_EQ(small.at("max_history"), 20);
  EXPECT_EQ(small.at("activation"), "prelu");

  // One table per pair plus one per other field; the tags are pooled in a group of their own.
  const std::vector<SparseParameterGroup*> groups = model->SparseGroups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0]->group_name(), "embedding");
  EXPECT_EQ(groups[0]->rows(), 11 + 5 + 7 + 3);
  EXPECT_EQ(groups[1]->group_name(), "lists");
  EXPECT_EQ(BuiltinModels().Create("dien", DienLayout(false), kTiny)->SparseGroups().size(), 1u);
  // Other models add no auxiliary loss.
  std::unique_ptr<Model> dlrm =
      BuiltinModels().Create("dlrm", DienLayout(), {{"preset", "dlrm-tiny"}});
  EXPECT_FALSE(dlrm->AuxiliaryLoss().defined());
}

TEST(Dien, PairingErrorsNameTheFields) {
  data::FeatureLayout layout = DienLayout();
  // Different vocabularies for a history and its target.
  layout.jagged[0].cardinality = 12;
  std::string message = ErrorOf([&] { BuiltinModels().Create("dien", layout, kTiny); });
  EXPECT_NE(message.find("history 'hist_item' has 12 ids and its target 'item' 11"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("one vocabulary"), std::string::npos) << message;
  // Explicit pairs.
  layout = DienLayout();
  nlohmann::json options = kTiny;
  options["targets"] = "cat";
  options["histories"] = "hist_cat";
  EXPECT_EQ(BuiltinModels().Create("dien", layout, options)->Architecture().at("pairs").size(), 1u);
  options["targets"] = "colour";
  message = ErrorOf([&] { BuiltinModels().Create("dien", layout, options); });
  EXPECT_NE(message.find("target 'colour' is not a categorical field"), std::string::npos)
      << message;
  EXPECT_NE(message.find("user, item, cat, hour"), std::string::npos) << message;
  options["targets"] = "item,cat";
  message = ErrorOf([&] { BuiltinModels().Create("dien", layout, options); });
  EXPECT_NE(message.find("2 targets"), std::string::npos) << message;
  options.erase("targets");
  options["histories"] = "tags";
  message = ErrorOf([&] { BuiltinModels().Create("dien", layout, options); });
  EXPECT_NE(message.find("no categorical field pairs with 'tags'"), std::string::npos) << message;
  options["histories"] = "hist_cat";
  EXPECT_EQ(BuiltinModels()
                .Create("dien", layout, options)
                ->Architecture()
                .at("pairs")[0]
                .at("target_name"),
            "cat");
  options.erase("histories");
  options["targets"] = "item";
  EXPECT_EQ(BuiltinModels()
                .Create("dien", layout, options)
                ->Architecture()
                .at("pairs")[0]
                .at("history_name"),
            "hist_item");
  // The generator's names: hist_items pairs with item_id, hist_cats with cat_id.
  data::FeatureLayout generated = layout;
  generated.categorical[1].name = "item_id";
  generated.categorical[2].name = "cat_id";
  generated.jagged[0].name = "hist_items";
  generated.jagged[1].name = "hist_cats";
  const nlohmann::json pairs =
      BuiltinModels().Create("dien", generated, kTiny)->Architecture().at("pairs");
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].at("target_name"), "item_id");
  EXPECT_EQ(pairs[1].at("target_name"), "cat_id");
  // No hist_X at all.
  layout.jagged[0].name = "clicks";
  layout.jagged[1].name = "clicked_cats";
  message = ErrorOf([&] { BuiltinModels().Create("dien", layout, kTiny); });
  EXPECT_NE(message.find("no history field pairs with a target"), std::string::npos) << message;
  // A row whose paired histories differ in length.
  layout = DienLayout();
  std::unique_ptr<Model> model = BuiltinModels().Create("dien", layout, kTiny);
  const data::FeatureBatch batch = DienBatch(layout, 4, 3, 1);
  const data::FeatureBatch uneven = WithHistory(batch, layout, 1, {1, 2}, {3});
  message = ErrorOf([&] { model->Forward(uneven); });
  EXPECT_NE(message.find("row 1 has 2 events in 'hist_item' but 1 in 'hist_cat'"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace aiok::models
