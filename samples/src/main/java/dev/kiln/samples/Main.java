package dev.kiln.samples;

import java.util.Set;

/** Entry point of {@code kiln-samples.jar}: {@code java -jar kiln-samples.jar <command> [options]}. */
public final class Main {
  static final String USAGE = String.join("\n",
      "usage: java -jar samples/target/kiln-samples.jar <command> [options]",
      "",
      "commands:",
      "  fashion-mnist [--model mlp|cnn|resnet|transformer|lstm] [--epochs 5] [--batch 64] [--lr 0.01] [--momentum 0.9] [--seed 0] [--eager]",
      "                [--out DIR] [--checkpoint PATH] [--resume PATH] [--device auto|cpu|cuda]",
      "                train the tutorials' model (default mlp) on FashionMNIST and report test accuracy;",
      "                compiled by the annotation processor unless --eager; writes training.png,",
      "                confusion.png and predictions.png to DIR (default runs/fashion-mnist-<model>);",
      "                --checkpoint writes model, optimizer and RNG state to PATH after every epoch,",
      "                --resume continues from such a file at the next epoch, with the same results as",
      "                an unbroken run (use the same options)",
      "  mnist [--epochs 20] [--batch 64] [--lr 0.01] [--momentum 0.5] [--seed 0] [--eager] [--device auto|cpu|cuda]",
      "                the PyTorch tutorial's MNIST MLP with BatchNorm1d: SGD with momentum, the learning",
      "                rate multiplied by 0.1 every 5 epochs (StepLR); train loss and accuracy, test loss and",
      "                accuracy, and lr per epoch",
      "  sweep [--model mlp|cnn] [--vary lr|batch|optimizer|all] [--values LIST] [--epochs 2] [--train-size N]",
      "                [--optimizer sgd|adam] [--lr 0.01] [--momentum 0] [--batch 64] [--seed 0] [--eager] [--out DIR]",
      "                [--device auto|cpu|cuda]",
      "                the tutorial's hyper-parameter experiments: one setting varied (default values: lr",
      "                0.1,0.01,0.001; batch 32,64,128; optimizer sgd,adam), the rest at the base, every run",
      "                from the same seed; prints a table, writes sweep-<what>.png and .csv to DIR",
      "                (default runs/sweep-<model>); --train-size uses the first N training images (0: all)",
      "  bench [--model mlp|cnn|resnet|lstm|transformer|encoder|seq2seq|all|layers] [--steps 200] [--rounds 1] [--device cpu|cuda|auto] [--peer PATH|none]",
      "        [--only PREFIX,...]",
      "                time training steps and inference next to the PyTorch peer (on the CPU unless --device);",
      "                --model encoder times FashionTransformer's network written with nn.TransformerEncoder;",
      "                --model layers times the seed CNN's layers (and CIFAR-10's first convolution, a 64->64 one, the",
      "                smooth activations, layer norm) one by one; --only runs the cases whose names start so;",
      "                --model seq2seq times the seq2seq sample's training step and greedy decoding (eager and compiled)",
      "  regression [--model sequential|by-hand] [--eager] [--loss mse|l1|smooth-l1|huber] [--epochs 50] [--batch 2]",
      "        [--lr 0.001] [--seed 0] [--out DIR] [--device auto|cpu|cuda]",
      "                the tutorial's add-two-numbers network (Linear(2, 8), ReLU, Linear(8, 1)) trained on",
      "                a dataset in shuffled batches; predicts [[8,9],[10,11],[1.5,2.5]], plots the loss",
      "                of every step to DIR/loss.png (default runs/regression); --model by-hand: the tutorial's",
      "                first form, two weight parameters (torch.rand) multiplied with @, compiled (--eager: not);",
      "                --loss: nn.L1Loss, nn.SmoothL1Loss or nn.HuberLoss instead of the tutorial's MSE loss",
      "  summary       torchsummary's table for the tutorials' networks and samples' ResNet",
      "  save-load [--file PATH] [--epochs 50] [--seed 0] [--device auto|cpu|cuda]",
      "                the tutorial's state_dict program: train the add-two-numbers model, print its state",
      "                dict, save it (to PATH, else a temporary file), load it into a fresh model, compare",
      "                the two models' predictions",
      "  intermediate  read a hidden layer's activation beside the output",
      "  pairs [--epochs 2] [--batch 64] [--lr 0.01] [--seed 0] [--train-size N] [--eager] [--device auto|cpu|cuda]",
      "                a siamese network on FashionMNIST pairs, a model of two inputs: one tower embeds each",
      "                image, a head says whether the two show the same kind of garment (half the pairs do);",
      "                train loss and test pair accuracy per epoch; compiled (forwardPair(a, @Input b)) unless --eager",
      "  reverse [--steps 400] [--batch 64] [--lr 0.01] [--seed 0] [--eager] [--device auto|cpu|cuda]",
      "                a seq2seq GRU encoder-decoder learns to reverse 6 random digits: the encoder's last state",
      "                h_n starts the decoder (forwardWithState(x, enc.h())); train loss and the share of digits",
      "                and whole sequences reversed right every 100 steps; compiled unless --eager",
      "  cifar10 [--epochs 1] [--batch 64] [--lr 0.01] [--momentum 0.9] [--seed 0] [--augment] [--eager]",
      "          [--device auto|cpu|cuda]",
      "                train the tutorials' CIFAR-10 network (compiled unless --eager) and report test accuracy;",
      "                --augment crops the training images at random (padding 4) and flips half of them, as",
      "                torchvision does",
      "  autoencoder [--epochs 2] [--batch 128] [--lr 0.001] [--seed 0] [--train-size N] [--out DIR]",
      "          [--eager] [--device auto|cpu|cuda]",
      "                a convolutional autoencoder on FashionMNIST (Conv2d encoder, ConvTranspose2d decoder,",
      "                MSE against the input, Adam; compiled unless --eager): train and test reconstruction",
      "                losses per epoch, test images over their reconstructions in DIR/reconstructions.png",
      "                (default runs/autoencoder)",
      "  char-gpt [--text FILE] [--block 32] [--layers 2] [--steps 1000] [--batch 32] [--lr 0.001] [--eval-every 100]",
      "          [--eval-iters 20] [--generate 300] [--prompt TEXT] [--temperature 0.8] [--top-k 20] [--seed 0] [--out DIR]",
      "          [--eager] [--device auto|cpu|cuda]",
      "                nanoGPT's character-level GPT (shakespeare_char, scaled down: 2 pre-norm blocks, 4 heads,",
      "                D 64, a context of 32 characters; --block and --layers only take these, the model's",
      "                compile-time sizes) on a text (default " + CharGptCommand.DEFAULT_TEXT + "), 90/10",
      "                train/validation, AdamW; train and val loss every --eval-every steps, DIR/loss.png",
      "                (default runs/char-gpt), then --generate characters after --prompt (default the text's",
      "                first line), temperature and top-k sampling (seeded); compiled unless --eager",
      "  seq2seq [--task sort|reverse] [--length 8] [--steps 600] [--batch 64] [--lr 0.001] [--eval-every 200] [--seed 0]",
      "          [--save PATH] [--load PATH] [--eager] [--device auto|cpu|cuda]",
      "                PyTorch's nn.Transformer translation tutorial on digits: an encoder-decoder Transformer",
      "                (d_model 64, 4 heads, 2+2 layers, feed-forward 128, dropout 0.1, batch first; token embeddings",
      "                and sinusoidal positions) learns to sort (or reverse) sequences of random digits, trained with",
      "                teacher forcing under the causal target mask (Adam); every --eval-every steps the train loss,",
      "                the test loss and greedy autoregressive decoding's share of digits and whole sequences right",
      "                on 1000 fresh sequences; --save writes the model (safetensors) and checks a reload decodes",
      "                the same, --load starts from such a file (--steps 0: evaluate it alone); compiled for 8",
      "                digits (the encoder and teacher forcing; decoding over the prefix eager) unless --eager",
      "",
      "--device auto (the default) runs on CUDA when it loads and works, else on the CPU, saying why;",
      "--device cuda fails with what is missing where it cannot run (driver, CUDA libraries, a GPU).",
      "FashionMNIST is read from $KILN_DATA, ~/.kiln/datasets/fashion-mnist or",
      "/usr/share/datasets/fashion-mnist (Debian: apt-get install dataset-fashion-mnist).",
      "MNIST is read the same way from $KILN_DATA, ~/.kiln/datasets/mnist or /usr/share/datasets/mnist,",
      "or downloaded into ~/.kiln/datasets/mnist.",
      "CIFAR-10 is read from $KILN_DATA/cifar-10-batches-bin or ~/.kiln/datasets/cifar-10-batches-bin, or",
      "downloaded there (https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz, 162 MB, checked and extracted).");

  private Main() {}

  /**
   * The on/off options of each command (taken alone, never followed by a value): the parser must know
   * them, else {@code --eager --epochs 1} would read {@code --eager} as an option missing its value.
   */
  static Set<String> flags(String command) {
    return switch (command) {
      case "cifar10" -> Set.of("augment", "eager");
      case "fashion-mnist", "mnist", "sweep", "regression", "pairs", "reverse", "autoencoder", "char-gpt", "seq2seq" ->
          Set.of("eager");
      default -> Set.of();
    };
  }

  /** {@code args[0]}'s options, from {@code args[1]} on. */
  static Args parse(String[] args) {
    return new Args(args[0], args, 1, flags(args[0]));
  }

  public static void main(String[] args) {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("-h")) {
      System.out.println(USAGE);
      return;
    }
    try {
      switch (args[0]) {
        case "fashion-mnist" -> FashionMnistCommand.run(parse(args));
        case "mnist" -> MnistCommand.run(parse(args));
        case "sweep" -> SweepCommand.run(parse(args));
        case "bench" -> BenchCommand.run(parse(args));
        case "regression" -> RegressionCommand.run(parse(args));
        case "summary" -> SummaryCommand.run(parse(args));
        case "save-load" -> SaveLoadCommand.run(parse(args));
        case "intermediate" -> IntermediateCommand.run(parse(args));
        case "pairs" -> PairsCommand.run(parse(args));
        case "reverse" -> ReverseCommand.run(parse(args));
        case "cifar10" -> Cifar10Command.run(parse(args));
        case "autoencoder" -> AutoencoderCommand.run(parse(args));
        case "char-gpt" -> CharGptCommand.run(parse(args));
        case "seq2seq" -> Seq2SeqCommand.run(parse(args));
        default -> throw new Args.UsageException("unknown command '" + args[0] + "'");
      }
    } catch (Args.HelpRequested e) {
      System.out.println(USAGE);
    } catch (Args.UsageException e) {
      System.err.println("error: " + e.getMessage());
      System.err.println("(java -jar samples/target/kiln-samples.jar --help lists the commands and their options)");
      System.exit(2);
    } catch (java.io.UncheckedIOException | IllegalArgumentException | IllegalStateException e) {
      // a missing dataset, a bad checkpoint, a model that does not fit: the message says what and where
      System.err.println("error: " + e.getMessage());
      System.exit(1);
    }
  }
}
