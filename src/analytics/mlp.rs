//! A small feed-forward neural network (multi-layer perceptron) for classes: 1 to 3 hidden
//! layers of ReLU units, a sigmoid (two classes) or softmax output, the cross-entropy loss
//! with an L2 penalty on the weights, inverted dropout after each hidden layer, mini-batches
//! with Adam, and early stopping on a validation split of the training rows (the weights of
//! the best epoch are kept). Inputs are standardised with the training rows' means and
//! standard deviations, which the model keeps.
//!
//! Our own code on ndarray rather than burn or candle: the network is tiny (tens of thousands
//! of weights), so what matters is a tight loop over mini-batches, not a tensor runtime; burn
//! and candle would add hundreds of crates to the build (the CI's time and the binary's size)
//! and their CPU kernels sum in thread-dependent orders. Here every matrix product is
//! ndarray's (matrixmultiply, one thread), each mini-batch's rows and dropout masks come
//! from the seed, the epoch and the batch, so a seed gives the same network on any number of
//! threads.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::error::AnalyticsError;
use super::gbdt::{sigmoid, softmax};
use crate::progress::Progress;

#[derive(Debug, Clone, PartialEq)]
pub struct MlpParams {
    /// Units per hidden layer (1 to 3 layers).
    pub hidden: Vec<usize>,
    /// Adam's step size.
    pub learning_rate: f64,
    /// L2 penalty on the weights (not the biases), added to the mean loss as l2/2 |W|^2.
    pub l2: f64,
    /// Share of each hidden layer's units dropped while training.
    pub dropout: f64,
    /// Passes over the training rows at most.
    pub epochs: usize,
    pub batch_size: usize,
    pub early_stopping: bool,
    pub validation_fraction: f64,
    /// Epochs without improvement before stopping.
    pub patience: usize,
    pub seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        MlpParams {
            hidden: vec![64, 32],
            learning_rate: 1e-3,
            l2: 1e-4,
            dropout: 0.1,
            epochs: 100,
            batch_size: 256,
            early_stopping: true,
            validation_fraction: 0.1,
            patience: 10,
            seed: 42,
        }
    }
}

/// One layer: `out = in . weights + bias`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// Inputs x outputs.
    #[serde(with = "matrix")]
    pub weights: Array2<f64>,
    #[serde(with = "vector")]
    pub bias: Array1<f64>,
}

/// A matrix in a saved model: its shape and its values row by row.
mod matrix {
    use ndarray::Array2;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    struct Stored {
        rows: usize,
        cols: usize,
        values: Vec<f64>,
    }

    pub fn serialize<S: Serializer>(a: &Array2<f64>, s: S) -> Result<S::Ok, S::Error> {
        Stored {
            rows: a.nrows(),
            cols: a.ncols(),
            values: a.iter().copied().collect(),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Array2<f64>, D::Error> {
        let m = Stored::deserialize(d)?;
        Array2::from_shape_vec((m.rows, m.cols), m.values).map_err(D::Error::custom)
    }
}

/// A vector in a saved model, as a list.
mod vector {
    use ndarray::Array1;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(a: &Array1<f64>, s: S) -> Result<S::Ok, S::Error> {
        a.to_vec().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Array1<f64>, D::Error> {
        Ok(Array1::from(Vec::<f64>::deserialize(d)?))
    }
}

/// A fitted network: what a saved model keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mlp {
    pub classes: usize,
    /// The training rows' mean and standard deviation per feature (inputs are standardised
    /// with them; a constant feature has standard deviation 1).
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    /// Hidden layers, then the output layer (1 output for two classes, else one per class).
    pub layers: Vec<Layer>,
    /// Epochs kept (the best validation epoch with early stopping, else all).
    pub epochs: usize,
    /// Validation loss after each epoch run (empty without early stopping).
    pub validation_loss: Vec<f64>,
    /// Mean |weight| of each input's first-layer weights, normalised to sum to 1.
    pub importance: Vec<f64>,
}

impl Mlp {
    fn standardise(&self, x: ArrayView2<f64>) -> Array2<f64> {
        let mut z = x.to_owned();
        for (j, mut c) in z.columns_mut().into_iter().enumerate() {
            c.mapv_inplace(|v| (v - self.mean[j]) / self.std[j]);
        }
        z
    }

    /// Class probabilities of every row of `x` (raw features, in the fit's order).
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> Vec<Vec<f64>> {
        let z = self.standardise(x);
        let out = forward(&self.layers, z, None)
            .pop()
            .expect("an output layer");
        probabilities(&out, self.classes)
            .outer_iter()
            .map(|r| r.to_vec())
            .collect()
    }
}

/// The activations of every layer for inputs `x` (the last is the output's logits); with
/// `masks`, each hidden layer's activations are multiplied by its mask (inverted dropout).
fn forward(layers: &[Layer], x: Array2<f64>, masks: Option<&[Array2<f64>]>) -> Vec<Array2<f64>> {
    let mut acts = vec![x];
    for (i, l) in layers.iter().enumerate() {
        let mut a = acts[i].dot(&l.weights) + &l.bias;
        if i + 1 < layers.len() {
            a.mapv_inplace(|v| v.max(0.0));
            if let Some(m) = masks {
                a *= &m[i];
            }
        }
        acts.push(a);
    }
    acts
}

/// Probabilities from logits: sigmoid of the one output (as two columns) or softmax.
fn probabilities(logits: &Array2<f64>, classes: usize) -> Array2<f64> {
    let n = logits.nrows();
    let mut p = Array2::zeros((n, classes));
    for (i, z) in logits.outer_iter().enumerate() {
        if classes == 2 {
            let q = sigmoid(z[0]);
            p[[i, 0]] = 1.0 - q;
            p[[i, 1]] = q;
        } else {
            for (c, v) in softmax(z.as_slice().expect("a row of logits"))
                .into_iter()
                .enumerate()
            {
                p[[i, c]] = v;
            }
        }
    }
    p
}

/// Mean cross-entropy of probabilities `p` for classes `y`.
fn cross_entropy(p: &Array2<f64>, y: &[usize]) -> f64 {
    let n = y.len().max(1) as f64;
    y.iter()
        .enumerate()
        .map(|(i, &c)| -p[[i, c]].max(1e-15).ln())
        .sum::<f64>()
        / n
}

/// Per layer, the gradient of the loss for its weights and for its bias.
type Gradients = Vec<(Array2<f64>, Array1<f64>)>;

/// The loss of a batch (mean cross-entropy plus l2/2 |W|^2) and its gradients per layer
/// (weights, bias), by back-propagation.
fn loss_and_gradients(
    layers: &[Layer],
    x: Array2<f64>,
    y: &[usize],
    classes: usize,
    l2: f64,
    masks: Option<&[Array2<f64>]>,
) -> (f64, Gradients) {
    let n = y.len() as f64;
    let acts = forward(layers, x, masks);
    let logits = acts.last().expect("an output");
    let p = probabilities(logits, classes);
    let penalty: f64 = layers
        .iter()
        .map(|l| l.weights.iter().map(|w| w * w).sum::<f64>())
        .sum::<f64>()
        * l2
        / 2.0;
    let loss = cross_entropy(&p, y) + penalty;
    // d loss / d logits: p - onehot (softmax), p1 - y (sigmoid), over n.
    let mut delta = if classes == 2 {
        let mut d = Array2::zeros((y.len(), 1));
        for (i, &c) in y.iter().enumerate() {
            d[[i, 0]] = (p[[i, 1]] - c as f64) / n;
        }
        d
    } else {
        let mut d = p;
        for (i, &c) in y.iter().enumerate() {
            d[[i, c]] -= 1.0;
        }
        d / n
    };
    let mut grads = Vec::with_capacity(layers.len());
    for i in (0..layers.len()).rev() {
        let gw = acts[i].t().dot(&delta) + &(&layers[i].weights * l2);
        let gb = delta.sum_axis(Axis(0));
        if i > 0 {
            let mut back = delta.dot(&layers[i].weights.t());
            // Through the mask and the ReLU of layer i - 1 (its output is acts[i]).
            if let Some(m) = masks {
                back *= &m[i - 1];
            }
            back.zip_mut_with(&acts[i], |d, &a| {
                if a <= 0.0 {
                    *d = 0.0;
                }
            });
            delta = back;
        }
        grads.push((gw, gb));
    }
    grads.reverse();
    (loss, grads)
}

/// Every network parameter within its range (`super::limits`), or an error naming it.
pub(crate) fn check(p: &MlpParams) -> Result<(), AnalyticsError> {
    use super::limits;
    if p.hidden.is_empty() || p.hidden.len() > 3 {
        return Err(AnalyticsError::Input(format!(
            "hidden layers: {} given; use 1 to 3 (e.g. 64,32)",
            p.hidden.len()
        )));
    }
    for &h in &p.hidden {
        limits::HIDDEN_UNITS.named("hidden", h)?;
    }
    limits::ADAM_LEARNING_RATE.named("learning_rate_init", p.learning_rate)?;
    limits::L2.named("weight_decay", p.l2)?;
    limits::DROPOUT.named("dropout", p.dropout)?;
    limits::EPOCHS.named("epochs", p.epochs)?;
    limits::BATCH_SIZE.named("batch_size", p.batch_size)?;
    limits::VALIDATION_FRACTION.named("validation_fraction", p.validation_fraction)?;
    limits::PATIENCE.named("patience", p.patience)?;
    Ok(())
}

/// Adam's moment estimates for one layer.
struct Moments {
    mw: Array2<f64>,
    vw: Array2<f64>,
    mb: Array1<f64>,
    vb: Array1<f64>,
}

/// Fits a network on `rows` of `x` with classes `y` (0..classes). `progress` advances one
/// unit per epoch allowed (the caller starts the step; the rest when it stops early) and
/// cancels it between batches.
pub fn fit_mlp(
    x: ArrayView2<f64>,
    y: &[usize],
    classes: usize,
    rows: &[usize],
    p: &MlpParams,
    progress: &Progress,
) -> Result<Mlp, AnalyticsError> {
    check(p)?;
    if classes < 2 || rows.len() < 2 {
        return Err(AnalyticsError::Input(
            "a neural network needs two or more classes and rows".into(),
        ));
    }
    let d = x.ncols();
    // Validation rows (stratified, seeded) for early stopping.
    let n_valid = (p.validation_fraction * rows.len() as f64).round() as usize;
    let (train, valid): (Vec<usize>, Vec<usize>) =
        if p.early_stopping && n_valid >= 1 && rows.len() - n_valid >= 2 {
            let labels: Vec<usize> = rows.iter().map(|&r| y[r]).collect();
            let (tr, va) = super::evaluation::stratified_split(
                &labels,
                p.validation_fraction,
                p.seed ^ 0x00a1_da7a,
            )?;
            (
                tr.into_iter().map(|i| rows[i]).collect(),
                va.into_iter().map(|i| rows[i]).collect(),
            )
        } else {
            (rows.to_vec(), Vec::new())
        };
    let mut mean = vec![0.0; d];
    let mut std = vec![1.0; d];
    for j in 0..d {
        let v: Vec<f64> = train.iter().map(|&r| x[[r, j]]).collect();
        let m = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|a| (a - m).powi(2)).sum::<f64>() / v.len() as f64;
        mean[j] = m;
        std[j] = if var > 1e-24 { var.sqrt() } else { 1.0 };
    }
    let mut model = Mlp {
        classes,
        mean,
        std,
        layers: Vec::new(),
        epochs: 0,
        validation_loss: Vec::new(),
        importance: vec![0.0; d],
    };
    let xt = model.standardise(x.select(Axis(0), &train).view());
    let yt: Vec<usize> = train.iter().map(|&r| y[r]).collect();
    let xv = model.standardise(x.select(Axis(0), &valid).view());
    let yv: Vec<usize> = valid.iter().map(|&r| y[r]).collect();
    // He initialisation (uniform, ReLU gain), seeded.
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);
    let outputs = if classes == 2 { 1 } else { classes };
    let mut sizes = vec![d];
    sizes.extend(&p.hidden);
    sizes.push(outputs);
    let mut layers: Vec<Layer> = sizes
        .windows(2)
        .map(|w| {
            let bound = (6.0 / w[0].max(1) as f64).sqrt();
            Layer {
                weights: Array2::from_shape_fn((w[0], w[1]), |_| rng.gen_range(-bound..bound)),
                bias: Array1::zeros(w[1]),
            }
        })
        .collect();
    let mut moments: Vec<Moments> = layers
        .iter()
        .map(|l| Moments {
            mw: Array2::zeros(l.weights.raw_dim()),
            vw: Array2::zeros(l.weights.raw_dim()),
            mb: Array1::zeros(l.bias.len()),
            vb: Array1::zeros(l.bias.len()),
        })
        .collect();
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
    let mut step = 0i32;
    let mut best = (f64::INFINITY, 0usize, layers.clone());
    let keep = 1.0 - p.dropout;
    let m = train.len();
    let mut order: Vec<usize> = (0..m).collect();
    let mut ran = 0;
    for epoch in 0..p.epochs {
        let mut erng = ChaCha8Rng::seed_from_u64(p.seed.wrapping_add(1 + epoch as u64));
        order.shuffle(&mut erng);
        for batch in order.chunks(p.batch_size.max(1)) {
            if progress.is_cancelled() {
                return Err(AnalyticsError::Cancelled);
            }
            let xb = xt.select(Axis(0), batch);
            let yb: Vec<usize> = batch.iter().map(|&i| yt[i]).collect();
            let masks: Option<Vec<Array2<f64>>> = (p.dropout > 0.0).then(|| {
                p.hidden
                    .iter()
                    .map(|&h| {
                        Array2::from_shape_fn((batch.len(), h), |_| {
                            if erng.r#gen::<f64>() < keep {
                                1.0 / keep
                            } else {
                                0.0
                            }
                        })
                    })
                    .collect()
            });
            let (_, grads) = loss_and_gradients(&layers, xb, &yb, classes, p.l2, masks.as_deref());
            step += 1;
            let (c1, c2) = (1.0 - b1.powi(step), 1.0 - b2.powi(step));
            let lr = p.learning_rate;
            for ((l, mo), (gw, gb)) in layers.iter_mut().zip(&mut moments).zip(grads) {
                mo.mw
                    .zip_mut_with(&gw, |m, &g| *m = b1 * *m + (1.0 - b1) * g);
                mo.vw
                    .zip_mut_with(&gw, |v, &g| *v = b2 * *v + (1.0 - b2) * g * g);
                mo.mb
                    .zip_mut_with(&gb, |m, &g| *m = b1 * *m + (1.0 - b1) * g);
                mo.vb
                    .zip_mut_with(&gb, |v, &g| *v = b2 * *v + (1.0 - b2) * g * g);
                ndarray::Zip::from(&mut l.weights)
                    .and(&mo.mw)
                    .and(&mo.vw)
                    .for_each(|w, &m, &v| *w -= lr * (m / c1) / ((v / c2).sqrt() + eps));
                ndarray::Zip::from(&mut l.bias)
                    .and(&mo.mb)
                    .and(&mo.vb)
                    .for_each(|w, &m, &v| *w -= lr * (m / c1) / ((v / c2).sqrt() + eps));
            }
        }
        ran = epoch + 1;
        progress.advance(1);
        if !valid.is_empty() {
            let out = forward(&layers, xv.clone(), None).pop().expect("an output");
            let l = cross_entropy(&probabilities(&out, classes), &yv);
            model.validation_loss.push(l);
            if l < best.0 - 1e-7 {
                best = (l, epoch + 1, layers.clone());
            } else if epoch + 1 - best.1 >= p.patience {
                break;
            }
        }
    }
    progress.advance((p.epochs - ran) as u64);
    if !valid.is_empty() && best.1 > 0 {
        model.epochs = best.1;
        layers = best.2;
    } else {
        model.epochs = ran;
    }
    let first = &layers[0].weights;
    let mut importance: Vec<f64> = first
        .outer_iter()
        .map(|r| r.iter().map(|w| w.abs()).sum::<f64>() / r.len().max(1) as f64)
        .collect();
    let total: f64 = importance.iter().sum();
    if total > 0.0 {
        importance.iter_mut().for_each(|v| *v /= total);
    }
    model.importance = importance;
    model.layers = layers;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::evaluation::roc_auc;

    fn net(sizes: &[usize], seed: u64) -> Vec<Layer> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        sizes
            .windows(2)
            .map(|w| Layer {
                weights: Array2::from_shape_fn((w[0], w[1]), |_| rng.gen_range(-1.0..1.0)),
                bias: Array1::from_shape_fn(w[1], |_| rng.gen_range(-0.5..0.5)),
            })
            .collect()
    }

    /// Back-propagation equals central finite differences of the loss for every weight and
    /// bias, for two classes and three, with the L2 penalty and a dropout mask.
    #[test]
    fn gradients_match_finite_differences() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (classes, outputs) in [(2, 1), (3, 3)] {
            let layers = net(&[4, 5, 3, outputs], 2 + classes as u64);
            let x = Array2::from_shape_fn((7, 4), |_| rng.gen_range(-2.0..2.0));
            let y: Vec<usize> = (0..7).map(|i| i % classes).collect();
            let masks =
                vec![
                    Array2::from_shape_fn((7, 5), |_| {
                        if rng.r#gen::<f64>() < 0.8 { 1.25 } else { 0.0 }
                    }),
                    Array2::from_shape_fn((7, 3), |_| {
                        if rng.r#gen::<f64>() < 0.8 { 1.25 } else { 0.0 }
                    }),
                ];
            let l2 = 0.03;
            let (_, grads) = loss_and_gradients(&layers, x.clone(), &y, classes, l2, Some(&masks));
            let loss =
                |ls: &[Layer]| loss_and_gradients(ls, x.clone(), &y, classes, l2, Some(&masks)).0;
            let h = 1e-6;
            for li in 0..layers.len() {
                for idx in 0..layers[li].weights.len() {
                    let (r, c) = (
                        idx / layers[li].weights.ncols(),
                        idx % layers[li].weights.ncols(),
                    );
                    let mut up = layers.clone();
                    up[li].weights[[r, c]] += h;
                    let mut down = layers.clone();
                    down[li].weights[[r, c]] -= h;
                    let numeric = (loss(&up) - loss(&down)) / (2.0 * h);
                    let got = grads[li].0[[r, c]];
                    assert!(
                        (numeric - got).abs() < 1e-6,
                        "layer {li} w[{r},{c}]: {numeric} vs {got}"
                    );
                }
                for j in 0..layers[li].bias.len() {
                    let mut up = layers.clone();
                    up[li].bias[j] += h;
                    let mut down = layers.clone();
                    down[li].bias[j] -= h;
                    let numeric = (loss(&up) - loss(&down)) / (2.0 * h);
                    assert!((numeric - grads[li].1[j]).abs() < 1e-6, "layer {li} b[{j}]");
                }
            }
        }
    }

    fn rings(n: usize, seed: u64) -> (Array2<f64>, Vec<usize>) {
        // Class 1 inside a ring: no linear boundary separates it.
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: Array2<f64> = Array2::from_shape_fn((n, 3), |_| rng.gen_range(-2.0..2.0));
        let y = (0..n)
            .map(|i| usize::from((x[[i, 0]].powi(2) + x[[i, 1]].powi(2)).sqrt() < 1.3))
            .collect();
        (x, y)
    }

    /// The network learns a boundary no linear model can (a disc), early stopping keeps the
    /// best epoch, and a seed gives the same network on 1 and 2 threads.
    #[test]
    fn learns_a_disc_and_is_deterministic() {
        let (x, y) = rings(3000, 3);
        let train: Vec<usize> = (0..2400).collect();
        let p = MlpParams {
            hidden: vec![32, 16],
            learning_rate: 0.01,
            epochs: 60,
            ..MlpParams::default()
        };
        let fit = |threads| {
            crate::analytics::on_threads(threads, || {
                fit_mlp(x.view(), &y, 2, &train, &p, &Progress::new()).unwrap()
            })
        };
        let m = fit(1);
        assert_eq!(m, fit(2));
        let test: Vec<usize> = (2400..3000).collect();
        let proba = m.predict_proba(x.select(Axis(0), &test).view());
        let pos: Vec<bool> = test.iter().map(|&i| y[i] == 1).collect();
        let score: Vec<f64> = proba.iter().map(|p| p[1]).collect();
        let auc = roc_auc(&pos, &score).unwrap();
        assert!(auc > 0.97, "{auc}");
        let l = &m.validation_loss;
        let best = (0..l.len()).fold(0, |b, i| if l[i] < l[b] - 1e-7 { i } else { b });
        assert_eq!(m.epochs, best + 1);
        assert!(m.importance[2] < m.importance[0] && m.importance[2] < m.importance[1]);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let (x, y) = rings(50, 1);
        let rows: Vec<usize> = (0..50).collect();
        for bad in [
            MlpParams {
                hidden: vec![],
                ..MlpParams::default()
            },
            MlpParams {
                hidden: vec![8, 8, 8, 8],
                ..MlpParams::default()
            },
            MlpParams {
                dropout: 1.0,
                ..MlpParams::default()
            },
        ] {
            assert!(fit_mlp(x.view(), &y, 2, &rows, &bad, &Progress::new()).is_err());
        }
        let cancelled = Progress::new();
        cancelled.cancel();
        assert_eq!(
            fit_mlp(x.view(), &y, 2, &rows, &MlpParams::default(), &cancelled).unwrap_err(),
            AnalyticsError::Cancelled
        );
    }
}

#[cfg(test)]
mod timing {
    use super::*;

    /// Not a test of behaviour: `cargo test --release --lib -- --ignored mlp_speed
    /// --nocapture` times 10 epochs (64, 32 units) on 1,000,000 x 10.
    #[test]
    #[ignore]
    fn mlp_speed() {
        let (x, y) = crate::analytics::tree::speed_data();
        let rows: Vec<usize> = (0..y.len()).collect();
        let p = MlpParams {
            epochs: 10,
            early_stopping: false,
            ..MlpParams::default()
        };
        let t0 = std::time::Instant::now();
        let m = fit_mlp(x.view(), &y, 2, &rows, &p, &Progress::new()).unwrap();
        println!(
            "{} epochs on {} rows: {:?}",
            m.epochs,
            rows.len(),
            t0.elapsed()
        );
    }
}
